"""Whether DPDK 22.11's BPF library can load the bytecode the kernel verified.

The question behind it: can ovs-vswitchd run an action in its own process
with DPDK's ``librte_bpf`` (Debian ``librte-bpf23``) on the very
instructions the kernel's verifier accepted, so that the kernel's proof
still covers what runs? For each program, built as ``extframe build``
builds it:

1. every bundled action at ``-mcpu=v3`` (the default) and at ``-mcpu=v1``;
2. the mirror action that ``extframe mirror`` generates, for two filters;
3. the crafted programs of ``tests/kernel/progs/effects/`` (tc and xdp);

the object is loaded into the kernel with ``load_object`` and the
instructions libbpf gave the kernel (relocated, subprograms appended, map
fds in the ``ld_imm64`` immediates) are handed to ``rte_bpf_load()``
through ctypes, twice:

- ``as-is``: the exact instructions, with no external symbols: DPDK reads a
  call's immediate as an index into the table of external symbols it is
  given, and no table makes a kernel helper id mean that helper;
- ``remapped``: a copy in which each helper call's immediate is rewritten to
  an index into a table of stub functions, one per distinct helper id
  (sorted by id). The stubs declare no arguments and a 64-bit scalar
  result, so DPDK checks neither the arguments nor what the program does
  with the result beyond "a scalar".

The program's argument is described as a pointer to the context the kernel
gives it (``struct __sk_buff``, 192 bytes, or ``struct xdp_md``, 24 bytes).
DPDK's loader is called without ``rte_eal_init``: a control program must
load and run, or the part fails. DPDK's reasons go through ``rte_log``,
whose stream is pointed at an ``open_memstream`` buffer around each call.
Its syntax check (``validate:``) logs every instruction it refuses; its
evaluation (``evaluate:``) stops at the first problem, so the ``features``
column lists what else a program uses.

A program that loads is asked for its JIT code (``rte_bpf_get_jit``); one
without helper calls and map references is run once by the interpreter
(``rte_bpf_exec``) and once by the JIT on a zeroed context. Others are not
run: their stubs would be called with pointers that mean nothing here.

Last, one-feature probes: a few instructions each, run by the kernel
(``BPF_PROG_TEST_RUN``) where it can load them and by DPDK where it loads
them, so that each refusal has its own message and a silent difference in
what an instruction does shows as a different result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from analyzer.helpers import helper_by_id
from analyzer.insn import (
    BPF_ADD,
    BPF_ATOMIC,
    BPF_CMPXCHG,
    BPF_FETCH,
    BPF_JMP32,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    BPF_STX,
    BPF_XCHG,
    Insn,
    decode,
    encode,
)
from analyzer.verifier_log import summarize
from bench.common import MeasurementError, RunOptions, publish
from extframe.build import BuildOptions, build
from extframe.errors import BuildError, ExtframeError
from extframe.kernel import PROG_TYPES, LoadedProgram, LoadOptions, RunInput, load_object, run
from extframe.kernel.bpf_syscall import RawLoadOptions, prog_load_whole_log
from extframe.mirror.codegen import write_action
from extframe.mirror.pcapfilter import MAX_SNAPLEN

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
EFFECTS = ROOT / "tests" / "kernel" / "progs" / "effects"
MIRROR_FILTERS = ("udp", "tcp port 80")
#: ``extframe mirror``'s default ring buffer (``MirrorOptions.buffer_kib``).
MIRROR_RING_BYTES = 4096 * 1024

LIBRARY = "librte_bpf.so.23"
PACKAGE = "librte-bpf23"

#: The context each program type is given, and its size: the ``prog_arg``
#: DPDK checks context loads against (include/uapi/linux/bpf.h, Linux 6.18).
CONTEXT_SIZE = {"tc": 192, "xdp": 24}  # struct __sk_buff, struct xdp_md

# --- DPDK's ABI (rte_bpf.h, 22.11) -------------------------------------------

_ARG_RAW = 1  # enum rte_bpf_arg_type
_ARG_PTR = 0x10
_XTYPE_FUNC = 0  # enum rte_bpf_xtype
_FUNC_MAX_ARGS = 5  # EBPF_FUNC_MAX_ARGS

_u64 = ctypes.c_uint64
_HelperFunc = ctypes.CFUNCTYPE(_u64, _u64, _u64, _u64, _u64, _u64)
_JitFunc = ctypes.CFUNCTYPE(_u64, ctypes.c_void_p)


class _Arg(ctypes.Structure):
    """``struct rte_bpf_arg``: what a pointer or scalar argument or result is."""

    _fields_ = [("type", ctypes.c_int), ("size", ctypes.c_size_t), ("buf_size", ctypes.c_size_t)]


class _Func(ctypes.Structure):
    _fields_ = [
        ("val", _HelperFunc),
        ("nb_args", ctypes.c_uint32),
        ("args", _Arg * _FUNC_MAX_ARGS),
        ("ret", _Arg),
    ]


class _Var(ctypes.Structure):
    _fields_ = [("val", ctypes.c_void_p), ("desc", _Arg)]


class _XsymValue(ctypes.Union):
    _fields_ = [("func", _Func), ("var", _Var)]


class _Xsym(ctypes.Structure):
    """``struct rte_bpf_xsym``: one external symbol a program may call or read."""

    _anonymous_ = ("value",)
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("value", _XsymValue)]


class _Prm(ctypes.Structure):
    """``struct rte_bpf_prm``: what ``rte_bpf_load`` is given."""

    _fields_ = [
        ("ins", ctypes.c_char_p),
        ("nb_ins", ctypes.c_uint32),
        ("xsym", ctypes.POINTER(_Xsym)),
        ("nb_xsym", ctypes.c_uint32),
        ("prog_arg", _Arg),
    ]


class _Jit(ctypes.Structure):
    """``struct rte_bpf_jit``: the native code DPDK made, if any."""

    _fields_ = [("func", ctypes.c_void_p), ("sz", ctypes.c_size_t)]


# Sizes as gcc lays the structures out on x86-64 with the 22.11 headers.
for _struct, _size in ((_Arg, 24), (_Xsym, 176), (_Prm, 56), (_Jit, 16)):
    assert ctypes.sizeof(_struct) == _size, (_struct.__name__, ctypes.sizeof(_struct))


class LibraryMissing(Exception):
    """librte_bpf.so.23 cannot be opened; the message says which package brings it."""


class _Dpdk:
    """DPDK's BPF library through ctypes, with its log captured per call."""

    def __init__(self) -> None:
        try:
            self.bpf = ctypes.CDLL(LIBRARY)
            # rte_openlog_stream lives in the EAL library librte_bpf links to.
            self.eal = ctypes.CDLL("librte_eal.so.23")
        except OSError as e:
            raise LibraryMissing(
                f"bench dpdk: {e}; install Debian's {PACKAGE}: apt-get install -y {PACKAGE}"
            ) from e
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.bpf.rte_bpf_load.argtypes = [ctypes.POINTER(_Prm)]
        self.bpf.rte_bpf_load.restype = ctypes.c_void_p
        self.bpf.rte_bpf_destroy.argtypes = [ctypes.c_void_p]
        self.bpf.rte_bpf_destroy.restype = None
        self.bpf.rte_bpf_get_jit.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Jit)]
        self.bpf.rte_bpf_get_jit.restype = ctypes.c_int
        self.bpf.rte_bpf_exec.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.bpf.rte_bpf_exec.restype = _u64
        self.eal.rte_openlog_stream.argtypes = [ctypes.c_void_p]
        self.eal.rte_openlog_stream.restype = ctypes.c_int
        self.libc.open_memstream.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_size_t),
        ]
        self.libc.open_memstream.restype = ctypes.c_void_p
        self.libc.fclose.argtypes = [ctypes.c_void_p]
        self.libc.free.argtypes = [ctypes.c_void_p]

    @contextmanager
    def log(self) -> Iterator[list[str]]:
        """The lines DPDK logs inside the block, in the list once the block ends."""
        text = ctypes.c_void_p()
        size = ctypes.c_size_t()
        stream = self.libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
        if not stream:
            raise MeasurementError(f"open_memstream failed: errno {ctypes.get_errno()}")
        self.eal.rte_openlog_stream(stream)
        lines: list[str] = []
        try:
            yield lines
        finally:
            self.eal.rte_openlog_stream(None)  # back to DPDK's default, stderr
            self.libc.fclose(stream)  # flushes, and sets text and size
            if text.value:
                raw = ctypes.string_at(text.value, size.value)
                lines += raw.decode(errors="replace").splitlines()
                self.libc.free(text)


def _stub(a: int, b: int, c: int, d: int, e: int) -> int:
    return 0


#: One stub for every helper: it ignores its arguments and returns 0.
_STUB = _HelperFunc(_stub)


# --- What a program uses --------------------------------------------------------


@dataclass(frozen=True)
class Features:
    """What of the eBPF ISA a program uses that matters to DPDK 22.11."""

    jmp32: int = 0  # instructions of class BPF_JMP32 (0x06)
    bpf_calls: int = 0  # bpf-to-bpf calls (call with src_reg 1)
    kfunc_calls: int = 0  # kfunc calls (src_reg 2)
    atomics: tuple[str, ...] = ()  # BPF_STX|BPF_ATOMIC other than add, with counts
    atomic_adds: int = 0  # plain atomic add: DPDK's EBPF_XADD
    map_refs: int = 0  # ld_imm64 with src_reg 1 (map fd) or 2 (map value)
    other_pseudo: tuple[int, ...] = ()  # ld_imm64 with another src_reg (BTF id, func)
    helpers: tuple[int, ...] = ()  # distinct helper ids, sorted

    def text(self) -> str:
        """The features in a few words, ``-`` for none."""
        parts = []
        if self.jmp32:
            parts.append(f"JMP32 ×{self.jmp32}")
        if self.bpf_calls:
            parts.append(f"bpf2bpf call ×{self.bpf_calls}")
        if self.kfunc_calls:
            parts.append(f"kfunc call ×{self.kfunc_calls}")
        if self.atomics:
            parts.append("atomic " + ", ".join(self.atomics))
        if self.atomic_adds:
            parts.append(f"atomic add ×{self.atomic_adds}")
        if self.map_refs:
            parts.append(f"map ld_imm64 ×{self.map_refs}")
        if self.other_pseudo:
            parts.append("ld_imm64 src " + ",".join(map(str, self.other_pseudo)))
        return "; ".join(parts) or "-"

    def helper_text(self) -> str:
        """The helpers as ``id name``, ``-`` for none."""
        names = []
        for hid in self.helpers:
            helper = helper_by_id(hid)
            names.append(f"{hid} {helper.name}" if helper else str(hid))
        return ", ".join(names) or "-"


_ATOMIC_NAMES = {BPF_XCHG: "xchg", BPF_CMPXCHG: "cmpxchg"}
_ATOMIC_OPS = {0x00: "add", 0x40: "or", 0x50: "and", 0xA0: "xor"}


def _atomic_name(insn: Insn) -> str:
    size = "64" if insn.opcode & 0x18 == 0x18 else "32"
    if insn.imm in _ATOMIC_NAMES:
        return _ATOMIC_NAMES[insn.imm] + size
    op = _ATOMIC_OPS.get(insn.imm & ~BPF_FETCH)
    if op is None:
        return f"imm {insn.imm:#x}/{size}"
    return ("fetch_" if insn.imm & BPF_FETCH else "") + op + size


def features_of(insns: list[Insn]) -> Features:
    """What ``insns`` use, by kind."""
    jmp32 = bpf_calls = kfunc_calls = atomic_adds = map_refs = 0
    atomics: Counter[str] = Counter()
    helpers: set[int] = set()
    pseudo: set[int] = set()
    for i in insns:
        if i.insn_class == BPF_JMP32:
            jmp32 += 1
        elif i.is_pseudo_call():
            bpf_calls += 1
        elif i.is_kfunc_call():
            kfunc_calls += 1
        elif i.is_helper_call():
            helpers.add(i.imm)
        elif i.opcode & 0xE7 == BPF_STX | BPF_ATOMIC:
            if i.imm == BPF_ADD:
                atomic_adds += 1
            else:
                atomics[_atomic_name(i)] += 1
        elif i.is_ld_imm64() and i.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
            map_refs += 1
        elif i.is_ld_imm64() and i.src:
            pseudo.add(i.src)
    return Features(
        jmp32=jmp32,
        bpf_calls=bpf_calls,
        kfunc_calls=kfunc_calls,
        atomics=tuple(f"{n} ×{c}" for n, c in sorted(atomics.items())),
        atomic_adds=atomic_adds,
        map_refs=map_refs,
        other_pseudo=tuple(sorted(pseudo)),
        helpers=tuple(sorted(helpers)),
    )


def remap_helpers(insns: list[Insn], helpers: tuple[int, ...]) -> bytes:
    """The instructions with each helper call's imm made an index into ``helpers``."""
    index = {hid: n for n, hid in enumerate(helpers)}
    return encode(replace(i, imm=index[i.imm]) if i.is_helper_call() else i for i in insns)


# --- One load ------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """One reason DPDK logged: its stage (``validate``, ``evaluate``), what, where."""

    reason: str  # "validate: invalid opcode"
    pc: int | None  # in 8-byte slots, as the kernel counts


@dataclass(frozen=True)
class Attempt:
    """What ``rte_bpf_load`` said to one set of instructions, and what a run gave."""

    loaded: bool
    refusals: tuple[Refusal, ...] = ()
    log: tuple[str, ...] = ()
    jit_bytes: int | None = None  # None: no JIT code
    ran: str = ""  # "interp R0, jit R0", or why it was not run
    interp_r0: int | None = None
    jit_r0: int | None = None

    @property
    def reasons(self) -> list[str]:
        """The distinct reasons, in the order DPDK gave them."""
        return list(dict.fromkeys(r.reason for r in self.refusals))


#: "validate: invalid opcode at pc: 7": a reason at an instruction.
_AT_PC = re.compile(r"^(?P<fn>\w+): (?P<what>.*?)(?: at pc: ?(?P<pc>\d+))?;?$")
#: "validate(0x7ffd...) loops detected;": a reason whose lines of detail follow.
_WHOLE = re.compile(r"^(?P<fn>\w+)\(0x[0-9a-f]+\) (?P<what>.*?);?$")
_PC = re.compile(r"pc: ?(\d+)")


def parse_refusals(lines: list[str]) -> tuple[Refusal, ...]:
    """DPDK's reasons in its log, each with the first pc its lines name.

    The closing "rte_bpf_load(...) failed, error code" line counts only when
    it is the only one.
    """
    out: list[Refusal] = []
    for line in (ln.strip() for ln in lines):
        if "failed, error code" in line:
            continue
        m = _AT_PC.match(line) or _WHOLE.match(line)
        if m is not None:
            pc = m.groupdict().get("pc")
            out.append(Refusal(f"{m.group('fn')}: {m.group('what')}", int(pc) if pc else None))
        elif out and out[-1].pc is None and (detail := _PC.search(line)):
            out[-1] = replace(out[-1], pc=int(detail.group(1)))
    if not out:
        last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
        out.append(Refusal(last or "refused without a log line", None))
    return tuple(out)


class Loader:
    """``rte_bpf_load`` on raw instructions, with its log and an optional run."""

    def __init__(self) -> None:
        self.dpdk = _Dpdk()

    def load(self, code: bytes, nb_xsym: int, context_size: int, *, run: bool) -> Attempt:
        """Load ``code`` with ``nb_xsym`` stubs; if asked, run it on a zeroed context."""
        xsym = (_Xsym * max(1, nb_xsym))()
        for n in range(nb_xsym):
            xsym[n].name = f"stub{n}".encode()
            xsym[n].type = _XTYPE_FUNC
            xsym[n].func.val = _STUB
            xsym[n].func.nb_args = 0
            xsym[n].func.ret = _Arg(type=_ARG_RAW, size=8)
        prm = _Prm(
            ins=code,
            nb_ins=len(code) // 8,
            xsym=xsym if nb_xsym else None,
            nb_xsym=nb_xsym,
            prog_arg=_Arg(type=_ARG_PTR, size=context_size),
        )
        with self.dpdk.log() as lines:
            bpf = self.dpdk.bpf.rte_bpf_load(ctypes.byref(prm))
        if not bpf:
            return Attempt(loaded=False, refusals=parse_refusals(lines), log=tuple(lines))
        try:
            jit = _Jit()
            has_jit = self.dpdk.bpf.rte_bpf_get_jit(bpf, ctypes.byref(jit)) == 0 and bool(jit.func)
            if not run:
                return Attempt(
                    loaded=True,
                    log=tuple(lines),
                    jit_bytes=jit.sz if has_jit else None,
                    ran="not run: calls stubs or reads maps",
                )
            initial = bytes(context_size)
            ctx = ctypes.create_string_buffer(initial, context_size)
            interp = int(self.dpdk.bpf.rte_bpf_exec(bpf, ctx))
            ran = f"interp r0={interp}" + _written(initial, ctx.raw)
            jit_r0 = None
            if has_jit:
                ctx = ctypes.create_string_buffer(initial, context_size)
                jit_r0 = int(_JitFunc(jit.func)(ctypes.addressof(ctx)))
                ran += f"; jit r0={jit_r0}" + _written(initial, ctx.raw)
            return Attempt(
                loaded=True,
                log=tuple(lines),
                jit_bytes=jit.sz if has_jit else None,
                ran=ran,
                interp_r0=interp,
                jit_r0=jit_r0,
            )
        finally:
            self.dpdk.bpf.rte_bpf_destroy(bpf)


def _written(before: bytes, after: bytes) -> str:
    """Which context bytes a run changed, as ranges: the fields it wrote into the buffer."""
    changed = [n for n, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if not changed:
        return ""
    spans: list[list[int]] = []
    for n in changed:
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", wrote ctx " + ",".join(f"[{a}..{b}]" for a, b in spans)


# --- The programs ------------------------------------------------------------


@dataclass
class Row:
    """One program the kernel verified, and what DPDK made of it."""

    name: str
    insns: list[Insn] = field(default_factory=list)
    features: Features = field(default_factory=Features)
    as_is: Attempt | None = None
    remapped: Attempt | None = None
    skipped: str = ""  # why DPDK was not tried: the kernel or clang refused

    @property
    def outcome(self) -> str:
        if self.skipped:
            return "skipped"
        assert self.as_is is not None and self.remapped is not None
        if self.as_is.loaded:
            return "loaded as-is"
        if self.remapped.loaded:
            return "loaded after remapping"
        return "refused"

    def at(self, pc: int | None) -> str:
        """The instruction at slot ``pc``, as text."""
        hit = next((i for i in self.insns if i.index == pc), None)
        return f"pc {pc}: `{hit.text()}`" if hit else f"pc {pc}"

    def refusal_text(self, attempt: Attempt) -> str:
        """Each distinct reason with its count and first instruction."""
        parts = []
        for reason in attempt.reasons:
            hits = [r for r in attempt.refusals if r.reason == reason]
            count = f" ×{len(hits)}" if len(hits) > 1 else ""
            where = f", first at {self.at(hits[0].pc)}" if hits[0].pc is not None else ""
            parts.append(f"{reason}{count}{where}")
        return "; ".join(parts)


def _row(label: str, prog: LoadedProgram, loader: Loader) -> Row:
    insns = decode(prog.insns)
    feats = features_of(insns)
    ctx = CONTEXT_SIZE[prog.type_name]
    runnable = not feats.helpers and not feats.map_refs and not feats.kfunc_calls
    as_is = loader.load(prog.insns, 0, ctx, run=runnable)
    remapped = as_is
    if feats.helpers:
        code = remap_helpers(insns, feats.helpers)
        remapped = loader.load(code, len(feats.helpers), ctx, run=False)
    return Row(name=label, insns=insns, features=feats, as_is=as_is, remapped=remapped)


def measure(obj: Path, label: str, loader: Loader) -> list[Row]:
    """Load ``obj`` into the kernel, then hand each program's instructions to DPDK."""
    try:
        with load_object(obj, LoadOptions(log_level=0)) as loaded:
            many = len(loaded.programs) > 1
            return [
                _row(f"{label} {p.name}" if many else label, p, loader) for p in loaded.programs
            ]
    except ExtframeError as e:
        return [Row(name=label, skipped=f"the kernel refuses it here: {e.message}")]


def sources(tmp: Path) -> Iterator[tuple[str, Path | str]]:
    """(label, object, or why there is none) for every program measured."""
    for src in sorted(ACTIONS.glob("*.c")):
        yield f"actions/{src.stem} v3", build(src, tmp / f"{src.stem}.v3.o")
    v1 = BuildOptions(cpu="v1")
    for src in sorted(ACTIONS.glob("*.c")):
        try:
            yield f"actions/{src.stem} v1", build(src, tmp / f"{src.stem}.v1.o", v1)
        except BuildError as e:
            yield f"actions/{src.stem} v1", f"clang refuses -mcpu=v1: {e.message}"
    for n, expression in enumerate(MIRROR_FILTERS):
        c = write_action(
            tmp / f"mirror{n}.c", expression, snaplen=MAX_SNAPLEN, ring_bytes=MIRROR_RING_BYTES
        )
        yield f"mirror '{expression}' v3", build(c, tmp / f"mirror{n}.o")
    for src in sorted(EFFECTS.glob("*.c")):
        yield f"effects/{src.stem} v3", build(src, tmp / f"effects_{src.stem}.o")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(rows: list[Row]) -> list[str]:
    """The markdown table and its summary lines."""
    lines = [
        "DPDK 22.11 rte_bpf_load() on the instructions the kernel verified (no rte_eal_init; "
        "as-is: no external symbols; remapped: helper ids rewritten to indices into stubs)",
        "",
        "| program | insns | features | helpers | as-is | remapped | DPDK's refusal "
        "| JIT | run on a zeroed context |",
        "|---|---:|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.name} | | | | | | skipped: {_cell(r.skipped)} | | |")
            continue
        assert r.as_is is not None and r.remapped is not None
        as_is = "yes" if r.as_is.loaded else "no"
        if not r.as_is.loaded and r.as_is.reasons != r.remapped.reasons:
            as_is += f" ({r.refusal_text(r.as_is)})"
        remapped = "yes" if r.remapped.loaded else "no"
        if not r.features.helpers:
            remapped += " (no helpers)"
        loaded = r.remapped if r.remapped.loaded else None
        jit = "-"
        if loaded is not None:
            jit = f"yes, {loaded.jit_bytes} B" if loaded.jit_bytes is not None else "no"
        lines.append(
            f"| {r.name} | {sum(i.size for i in r.insns)} | {r.features.text()} "
            f"| {r.features.helper_text()} | {_cell(as_is)} | {remapped} "
            f"| {_cell(r.refusal_text(r.remapped))} | {jit} | {loaded.ran if loaded else '-'} |"
        )
    for line in summary(rows):
        lines += ["", line]
    return lines


def summary(rows: list[Row]) -> list[str]:
    """Counts: loaded as-is, after remapping, refused by reason, skipped."""
    outcomes = Counter(r.outcome for r in rows)
    refused = [r for r in rows if r.outcome == "refused" and r.remapped is not None]
    first = Counter(r.remapped.reasons[0] for r in refused if r.remapped)
    every = Counter(reason for r in refused if r.remapped for reason in r.remapped.reasons)
    return [
        f"{len(rows)} programs: {outcomes['loaded as-is']} loaded as-is, "
        f"{outcomes['loaded after remapping']} loaded after remapping, "
        f"{outcomes['refused']} refused, {outcomes['skipped']} skipped "
        "(the kernel or clang refused them).",
        "Refused, by DPDK's first reason: "
        + ", ".join(f"{n} {why!r}" for why, n in first.most_common())
        + ".",
        "Refused, by every reason DPDK gave (validate lists all it refuses, evaluate stops "
        "at the first): " + ", ".join(f"{n} {why!r}" for why, n in every.most_common()) + ".",
    ]


# --- One feature at a time ---------------------------------------------------


def _slot(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, src << 4 | dst, off, imm)


def _ld_imm64(dst: int, src: int, value: int) -> bytes:
    return _slot(0x18, dst, src, 0, value & 0xFFFFFFFF) + _slot(0, imm=value >> 32)


_EXIT = _slot(0x95)
_R0_0 = _slot(0xB7, 0, imm=0)


def _atomic(opcode: int, imm: int) -> bytes:
    """*(u64 *)(fp-8) = 5; r2 = 3; r0 = 5; OP [fp-8], r2; return *(fp-8) << 8 | r2.

    The result shows both the memory after the operation and r2, where the
    fetching forms put the old value (cmpxchg compares with r0).
    """
    return b"".join(
        [
            _slot(0xB7, 1, imm=5),
            _slot(0x7B, 10, 1, -8),
            _slot(0xB7, 2, imm=3),
            _slot(0xB7, 0, imm=5),
            _slot(opcode, 10, 2, -8, imm),
            _slot(0x79, 0, 10, -8),
            _slot(0x67, 0, imm=8),
            _slot(0x4F, 0, 2),
            _EXIT,
        ]
    )


@dataclass(frozen=True)
class Probe:
    """A few instructions that use one feature.

    ``nb_xsym``: how many stubs DPDK is given. ``not_in_kernel``: why the
    kernel is not asked, when the probe cannot mean there what it means.
    """

    name: str
    code: bytes
    nb_xsym: int = 0
    not_in_kernel: str = ""


PACKET = bytes([0x2A]) + bytes(63)  # the probes that read the packet read 42
_NO_MAP = "- (fd 3 is no map here; the actions above load real ones)"
_NO_BTF = "- (needs a kfunc's BTF id)"

PROBES = (
    Probe("control: r0 = 0; exit", _R0_0 + _EXIT),
    Probe(
        "JMP: if r1 == 0 (64-bit compare)",
        _R0_0 + _slot(0xB7, 1) + _slot(0x15, 1, off=1) + _slot(0xB7, 0, imm=1) + _EXIT,
    ),
    Probe(
        "JMP32: if w1 == 0 (-mcpu=v3)",
        _R0_0 + _slot(0xB4, 1) + _slot(0x16, 1, off=1) + _slot(0xB7, 0, imm=1) + _EXIT,
    ),
    Probe(
        "bpf2bpf call: call pc+1, the callee returns 7",
        _slot(0x85, src=1, imm=1) + _EXIT + _slot(0xB7, 0, imm=7) + _EXIT,
    ),
    Probe("kfunc call (src_reg 2)", _slot(0x85, src=2, imm=1) + _R0_0 + _EXIT, 2, _NO_BTF),
    Probe("helper call, kernel id 7 (get_prandom_u32)", _slot(0x85, imm=7) + _R0_0 + _EXIT),
    Probe("helper call, remapped to stub 0", _slot(0x85, imm=0) + _R0_0 + _EXIT, 1),
    Probe(
        "ld_imm64 constant: r0 = 1 << 32; r0 >>= 32",
        _ld_imm64(0, 0, 1 << 32) + _slot(0x77, 0, imm=32) + _EXIT,
    ),
    Probe("ld_imm64 map fd (src_reg 1)", _ld_imm64(1, 1, 3) + _R0_0 + _EXIT, 0, _NO_MAP),
    Probe("ld_imm64 map value (src_reg 2)", _ld_imm64(1, 2, 3) + _R0_0 + _EXIT, 0, _NO_MAP),
    Probe("atomic add64 (imm 0x00)", _atomic(0xDB, 0x00)),
    Probe("atomic add32 (imm 0x00)", _atomic(0xC3, 0x00)),
    Probe("atomic fetch_add64 (imm 0x01)", _atomic(0xDB, 0x01)),
    Probe("atomic or64 (imm 0x40)", _atomic(0xDB, 0x40)),
    Probe("atomic and64 (imm 0x50)", _atomic(0xDB, 0x50)),
    Probe("atomic xor64 (imm 0xa0)", _atomic(0xDB, 0xA0)),
    Probe("atomic fetch_or64 (imm 0x41)", _atomic(0xDB, 0x41)),
    Probe("atomic xchg64 (imm 0xe1)", _atomic(0xDB, 0xE1)),
    Probe("atomic cmpxchg64 (imm 0xf1)", _atomic(0xDB, 0xF1)),
    Probe(
        "packet byte through skb->data, bounds-checked against skb->data_end",
        _slot(0x61, 2, 1, 76)  # r2 = skb->data
        + _slot(0x61, 3, 1, 80)  # r3 = skb->data_end
        + _R0_0
        + _slot(0xBF, 4, 2)
        + _slot(0x07, 4, imm=1)
        + _slot(0x2D, 4, 3, 1)  # if r4 > r3 goto +1
        + _slot(0x71, 0, 2, 0)  # r0 = *(u8 *)(r2 + 0)
        + _EXIT,
    ),
    Probe(
        "bounded loop: r0 += 1 while r0 < 4",
        _R0_0 + _slot(0x07, 0, imm=1) + _slot(0xA5, 0, off=-2, imm=4) + _EXIT,
    ),
)


def _kernel_r0(code: bytes) -> str:
    """The kernel's verdict on a probe as a tc program, and r0 of one run on PACKET."""
    raw = prog_load_whole_log(code, RawLoadOptions(log_level=1, name="dpdk_probe"))
    if raw.fd is None:
        return f"refused: {summarize(raw.log).reason or os.strerror(raw.errno)}"
    try:
        prog = LoadedProgram(
            name="dpdk_probe",
            section="tc",
            prog_type=PROG_TYPES["tc"],
            fd=raw.fd,
            insn_count=len(code) // 8,
            insns=code,
            log=raw.log,
            log_complete=False,
        )
        return f"r0={run(prog, RunInput(packet=PACKET)).retval}"
    finally:
        raw.close()


def probe_table(loader: Loader) -> list[str]:
    """One row per probe: what the kernel and DPDK make of it, and whether they agree."""
    lines = [
        "One feature at a time: the kernel (a tc program run once by BPF_PROG_TEST_RUN on a "
        "64-byte packet whose first byte is 42) against DPDK (interpreter and JIT, on a zeroed "
        "__sk_buff)",
        "",
        "| probe | kernel | DPDK loads | DPDK's refusal | DPDK's run | same result |",
        "|---|---|---|---|---|---|",
    ]
    for p in PROBES:
        kernel = p.not_in_kernel or _kernel_r0(p.code)
        a = loader.load(p.code, p.nb_xsym, CONTEXT_SIZE["tc"], run=True)
        refusal = "; ".join(a.reasons) if not a.loaded else ""
        same = "-"
        if a.loaded and kernel.startswith("r0="):
            wanted = int(kernel.removeprefix("r0="))
            same = "yes" if wanted == a.interp_r0 and a.jit_r0 in (None, wanted) else "**NO**"
        lines.append(
            f"| {p.name} | {kernel} | {'yes' if a.loaded else 'no'} | {refusal} "
            f"| {a.ran if a.loaded else '-'} | {same} |"
        )
    return lines


def _control(loader: Loader) -> None:
    """DPDK must load and run ``r0 = 0; exit``: else nothing below would mean anything."""
    a = loader.load(_R0_0 + _EXIT, 0, CONTEXT_SIZE["tc"], run=True)
    if not a.loaded or a.interp_r0 != 0:
        why = "; ".join(a.reasons) or a.ran
        raise MeasurementError(f"DPDK did not load and run `r0 = 0; exit` without EAL: {why}")


def main(options: RunOptions) -> int:
    del options  # one load each: nothing is timed
    try:
        loader = Loader()
    except LibraryMissing as e:
        print(e, file=sys.stderr)
        return 2
    _control(loader)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, obj in sources(Path(tmp)):
            if isinstance(obj, str):
                rows.append(Row(name=label, skipped=obj))
            else:
                rows += measure(obj, label, loader)
    if not rows:
        raise MeasurementError("no program found to measure")
    publish("dpdk", [*table(rows), "", *probe_table(loader)])
    return 0
