"""Static pointer provenance: which stores and calls may touch the packet, and where.

An abstract interpretation over the instruction-level CFG. Each register and
8-byte stack slot holds a ``Val``: a set of ``Atom``s, each a kind of value
with a range. Kinds:

``scalar``     a number, unsigned range ``[lo, hi]``
``ctx``        the context (``struct __sk_buff`` / ``struct xdp_md``) + offset
``pkt``        packet data + offset range from the Ethernet header start
``pkt_meta``   the metadata area in front of the packet + offset range
``pkt_end``    ``data_end``
``stack``      a frame's stack + offset range (``frame`` = call depth)
``map_ptr``    a map (``name``); ``map_value`` a value in it
``mem``        other memory that is never the packet (ring buffer, BTF objects)
``unknown``    anything, the packet included

A store through a ``pkt`` atom is a packet write with its byte range; through
``unknown`` a write that may hit the packet anywhere. The analysis is
context-sensitive for bpf-to-bpf calls (each call site a context, as the
verifier verifies static callees), follows spills and fills of 8-byte
values, refines scalar ranges at conditional jumps against constants
(registers copied from one another share the refinement, as the verifier's
linked scalars do), and records on each path the packet bytes it compared
with constants (``Facts``), which the verdict layer uses to name the header
fields a write hits. Loops are widened after a few rounds, so the analysis
always ends. Everything it cannot follow becomes ``unknown``, never a guess.

Sources for the kernel's rules it relies on: the context layouts of
``struct __sk_buff`` and ``struct xdp_md`` (include/uapi/linux/bpf.h) and the
fields tc programs may write (net/core/filter.c: tc_cls_act_is_valid_access);
packet pointers come only from the context's data fields, helper and kfunc
results, and arithmetic on them (kernel/bpf/verifier.c).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from analyzer import symbolic as sym
from analyzer.cfg import Cfg
from analyzer.helpers import HelperEffect, helper_by_id, helper_symbol, kfunc_by_name
from analyzer.insn import (
    BPF_ADD,
    BPF_AND,
    BPF_ARSH,
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_END,
    BPF_FETCH,
    BPF_JEQ,
    BPF_JGE,
    BPF_JGT,
    BPF_JLE,
    BPF_JLT,
    BPF_JMP,
    BPF_JMP32,
    BPF_JNE,
    BPF_JSGE,
    BPF_JSGT,
    BPF_JSLE,
    BPF_JSLT,
    BPF_LSH,
    BPF_MOD,
    BPF_MOV,
    BPF_MUL,
    BPF_OR,
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
    BPF_PSEUDO_MAP_VALUE,
    BPF_RSH,
    BPF_SUB,
    BPF_TO_BE,
    BPF_X,
    BPF_XCHG,
    Insn,
)
from analyzer.symbolic import (
    Bits,
    Facts,
    Lin,
    join_facts,
    layout_signature,
    learn,
)

__all__ = [
    "Atom",
    "CallSite",
    "MemoryAccess",
    "ProvenanceResult",
    "Val",
    "analyze_provenance",
]

Kind = Literal[
    "scalar", "ctx", "pkt", "pkt_meta", "pkt_end", "stack", "map_ptr", "map_value", "mem", "unknown"
]
ProgType = Literal["tc", "xdp"]

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
MAX_FRAMES = 8  # MAX_CALL_FRAMES, include/linux/bpf_verifier.h
WIDEN_AFTER = 6  # joins at one node before its growing ranges are widened
MAX_STEPS = 400_000  # node visits before the analysis gives up (verdict unknown)
_STACK_SIZE = 512  # MAX_BPF_STACK
_BPF_MEMSX = 0x80  # mode of sign-extending loads (cpu v4)

# Context fields (include/uapi/linux/bpf.h). Loads of these give pointers.
_CTX_POINTERS: Mapping[ProgType, Mapping[int, Kind]] = {
    "tc": {76: "pkt", 80: "pkt_end", 140: "pkt_meta", 144: "mem", 168: "mem"},
    "xdp": {0: "pkt", 4: "pkt_end", 8: "pkt_meta"},
}
# struct __sk_buff fields by byte range, for naming context writes.
_SKB_FIELDS: tuple[tuple[int, int, str], ...] = (
    (0, 4, "len"),
    (4, 8, "pkt_type"),
    (8, 12, "mark"),
    (12, 16, "queue_mapping"),
    (16, 20, "protocol"),
    (20, 32, "vlan"),
    (32, 36, "priority"),
    (36, 44, "ifindex"),
    (44, 48, "tc_index"),
    (48, 68, "cb"),
    (68, 72, "hash"),
    (72, 76, "tc_classid"),
    (152, 160, "tstamp"),
    (180, 181, "tstamp_type"),
)


@dataclass(frozen=True, slots=True, order=True)
class Atom:
    """One kind of value with its range; ``lo``/``hi`` None means unbounded that way.

    For ``scalar``, the unsigned value range. For pointers, the offset from
    the base. ``frame``: the call depth a ``stack`` pointer points into.
    ``name``: the map of a ``map_ptr``/``map_value``. ``sid``: scalars copied
    from one value share it (a branch refines them all). ``lin``: the value
    (scalar) or offset (``pkt``) as a sum of packet bit fields and a constant
    (analyzer/symbolic.py), when the analysis knows it: a TCP header's
    position is ``14 + 4·ihl``, whatever the IHL.
    """

    kind: Kind
    lo: int | None = 0
    hi: int | None = 0
    frame: int = 0
    name: str = ""
    sid: int | None = None
    lin: Lin | None = None
    # (n, lin): the low n bytes of this scalar are ``lin`` (a wide read of
    # a struct on the stack whose first member was stored narrow).
    low: tuple[int, Lin] | None = None

    @property
    def fixed(self) -> int | None:
        """The offset or value when it is one number, else None."""
        return self.lo if self.lo is not None and self.lo == self.hi else None


Val = tuple[Atom, ...]
"""A set of atoms, sorted and merged so that equal sets compare equal."""

_TOP: Val = (Atom("scalar", 0, U64),)
_UNKNOWN: Val = (Atom("unknown", None, None),)


def scalar(lo: int = 0, hi: int = U64) -> Val:
    return (Atom("scalar", lo, hi),)


def _const(value: int) -> Val:
    value &= U64
    return (Atom("scalar", value, value),)


def _key(a: Atom) -> tuple[str, int, str]:
    return (a.kind, a.frame, a.name)


def _join_atom(a: Atom, b: Atom) -> Atom:
    lo = None if a.lo is None or b.lo is None else min(a.lo, b.lo)
    hi = None if a.hi is None or b.hi is None else max(a.hi, b.hi)
    return Atom(
        a.kind,
        lo,
        hi,
        a.frame,
        a.name,
        a.sid if a.sid == b.sid else None,
        _join_lin(a.lin, b.lin),
        a.low if a.low == b.low else None,
    )


def _join_lin(a: Lin | None, b: Lin | None) -> Lin | None:
    if a is None or b is None or a.terms != b.terms:
        return None
    if a == b:
        return a
    return Lin(a.terms, min(a.lo, b.lo), None if a.hi is None or b.hi is None else max(a.hi, b.hi))


def join(*vals: Val) -> Val:
    """The least value covering all of ``vals``."""
    merged: dict[tuple[str, int, str], Atom] = {}
    for val in vals:
        for atom in val:
            k = _key(atom)
            merged[k] = _join_atom(merged[k], atom) if k in merged else atom
    return tuple(sorted(merged.values()))


def _widen_atom(old: Atom, new: Atom, thresholds: tuple[int, ...] = ()) -> Atom:
    lo = new.lo if old.lo is not None and new.lo is not None and new.lo >= old.lo else None
    hi = new.hi if old.hi is not None and new.hi is not None and new.hi <= old.hi else None
    if new.kind == "scalar":
        if hi is None and new.hi is not None:
            # Widening with thresholds: a growing bound jumps to the next
            # constant the program compares with, not straight to the top,
            # so a counted loop's counter keeps its bound. Finitely many
            # thresholds, so the ascent still ends.
            i = bisect.bisect_left(thresholds, new.hi)
            hi = thresholds[i] if i < len(thresholds) else None
        lo, hi = (0 if lo is None else lo), (U64 if hi is None else hi)
    lin = new.lin
    if lin is not None and old.lin is not None and lin != old.lin:
        # Grown upwards: open the constant part upwards; downwards: drop it.
        lin = None if lin.lo < old.lin.lo else Lin(lin.terms, lin.lo, None)
    if lin is not None and new.kind == "scalar" and lin.hi is None:
        lin = None  # a scalar's symbolic value is exact or nothing
    low = new.low if new.low == old.low else None
    return replace(new, lo=lo, hi=hi, lin=lin, low=low)


def _widen(old: Val, new: Val, thresholds: tuple[int, ...] = ()) -> Val:
    before = {_key(a): a for a in old}
    return tuple(
        sorted(_widen_atom(before[_key(a)], a, thresholds) if _key(a) in before else a for a in new)
    )


def _widening_thresholds(cfg: Cfg) -> tuple[int, ...]:
    """The bounds a widened scalar may stop at: each constant a conditional jump compares with.

    ``k - 1``, ``k`` and ``k + 1``: a loop ``i != k`` or ``i < k`` then
    settles with ``i`` at most ``k`` after its increment, once the branch
    refines the back edge.
    """
    out: set[int] = set()
    for insn in cfg.insns.values():
        if insn.is_cond_jump() and not insn.opcode & BPF_X:
            k = insn.imm & (U32 if insn.insn_class == BPF_JMP32 else U64)
            out.update(v for v in (k - 1, k, k + 1) if 0 <= v <= U64)
    return tuple(sorted(out))


# --- abstract state -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    regs: Mapping[int, Val]
    stack: Mapping[int, Val]  # 8-aligned offset (negative) → value of that slot
    # (offset, size) → the number a narrow store left there, while no other
    # write touched those bytes: a u16 field of a struct on the stack.
    narrow: Mapping[tuple[int, int], Val] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class State:
    frames: tuple[Frame, ...]
    facts: Facts = frozenset()  # bit fields of the packet the path compared

    @property
    def top(self) -> Frame:
        return self.frames[-1]

    def with_top(
        self, regs: Mapping[int, Val] | None = None, stack: Mapping[int, Val] | None = None
    ) -> State:
        f = self.top
        if stack is None:
            new = Frame(f.regs if regs is None else regs, f.stack, f.narrow)
        else:
            new = Frame(f.regs if regs is None else regs, stack)
        return replace(self, frames=(*self.frames[:-1], new))

    def with_frame(
        self,
        depth: int,
        stack: Mapping[int, Val],
        narrow: Mapping[tuple[int, int], Val] | None = None,
    ) -> State:
        frames = list(self.frames)
        frames[depth] = Frame(frames[depth].regs, stack, narrow or {})
        return replace(self, frames=tuple(frames))

    def reg(self, r: int) -> Val:
        return self.top.regs.get(r, _UNKNOWN)


def _join_maps(
    a: Mapping[int, Val],
    b: Mapping[int, Val],
    widen: bool,
    unset: Val | None,
    thresholds: tuple[int, ...] = (),
) -> dict[int, Val]:
    """Join two register files or stacks; ``unset`` stands for a key set on one side only.

    A register set on one path only cannot be read after the join (the
    verifier refuses reading an uninitialised register), so ``unset`` is
    None for registers: the value from the other path stands. A stack slot
    can be read uninitialised by a privileged program (allow_uninit_stack),
    and then holds whatever an earlier frame left there: any number.
    """
    out: dict[int, Val] = {}
    for k in a.keys() & b.keys():
        j = join(a[k], b[k])
        out[k] = _widen(a[k], j, thresholds) if widen else j
    for k in a.keys() ^ b.keys():
        v = a[k] if k in a else b[k]
        out[k] = v if unset is None else join(v, unset)
    return out


def _join_states(old: State, new: State, widen: bool, thresholds: tuple[int, ...] = ()) -> State:
    frames = tuple(
        Frame(
            _join_maps(fo.regs, fn.regs, widen, None, thresholds),
            _join_maps(fo.stack, fn.stack, widen, _TOP, thresholds),
            {
                k: _widen(fo.narrow[k], j, thresholds) if widen else j
                for k in fo.narrow.keys() & fn.narrow.keys()
                for j in (join(fo.narrow[k], fn.narrow[k]),)
            },
        )
        for fo, fn in zip(old.frames, new.frames, strict=True)
    )
    return State(frames, join_facts(old.facts, new.facts))


# --- results --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemoryAccess:
    """A store (or helper/kfunc write) that may touch the packet, the metadata or the context.

    ``target``: ``pkt`` (``lo``/``hi``: the byte span it may write, None
    unbounded), ``pkt_meta``, ``ctx`` (``lo``/``hi``: the context offset) or
    ``unknown`` (a base of unknown provenance: anywhere). ``via``: ``store``,
    ``atomic``, or the helper/kfunc name. ``start``: for ``pkt``, the first
    byte as a symbolic position when known. ``facts``: what the path knew
    about packet bit fields (analyzer/symbolic.py names the fields from them).
    ``keep``: per byte of a store, the bits it provably leaves as they were.
    """

    insn: int
    target: Literal["pkt", "pkt_meta", "ctx", "unknown"]
    lo: int | None
    hi: int | None
    size: int | None
    via: str
    facts: Facts = frozenset()
    start: Lin | None = None
    keep: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CallSite:
    """A helper or kfunc call reached by the analysis, with its table row (None: not in it)."""

    insn: int
    kind: Literal["helper", "kfunc"]
    name: str
    id: int | None
    effect: HelperEffect | None


@dataclass(frozen=True, slots=True)
class ProvenanceResult:
    """What the analysis found on every path it followed.

    ``accesses``: every store and helper write that may touch packet,
    metadata area or context. ``calls``: helper and kfunc calls by
    instruction. ``map_reads``/``map_writes``: map names by instruction.
    ``reached``: the instructions some followed path reached (in any
    context). ``problems``: why the result cannot be trusted (give up,
    recursion, ...); empty when the analysis is complete.
    """

    accesses: tuple[MemoryAccess, ...]
    calls: tuple[CallSite, ...]
    map_reads: Mapping[str, frozenset[int]]
    map_writes: Mapping[str, frozenset[int]]
    reached: frozenset[int]
    problems: tuple[str, ...]


def ctx_field(prog_type: ProgType, offset: int) -> str:
    """The context field at byte ``offset`` (``mark``, ``cb``), or ``ctx+N``."""
    if prog_type == "tc":
        for start, end, name in _SKB_FIELDS:
            if start <= offset < end:
                return name
    return f"ctx+{offset}"


# --- the interpreter ------------------------------------------------------------

Context = tuple[int, ...]  # call sites from the entry: one per pushed frame
Key = tuple[Context, int, object]  # context, instruction, layout signature
MAX_LAYOUTS = 48  # frame layouts kept apart at one instruction; more are joined
_NEVER_NULL = frozenset({"pkt", "pkt_meta", "pkt_end", "stack", "ctx", "map_value"})
_SHAPED = ("~",)
_MERGED = ("*",)


@dataclass
class _Run:
    cfg: Cfg
    prog_type: ProgType
    map_names: Mapping[int, tuple[str, str]]  # insn → ("map" | "data", name) of a relocated load
    kfunc_names: Mapping[int, str]  # insn index → kfunc name
    states: dict[Key, State] = field(default_factory=dict)
    layouts: dict[tuple[Context, int], set[object]] = field(default_factory=dict)
    exits: dict[Context, State] = field(default_factory=dict)
    joins: dict[Key, int] = field(default_factory=dict)
    accesses: set[MemoryAccess] = field(default_factory=set)
    calls: dict[tuple[int, str], CallSite] = field(default_factory=dict)
    map_reads: dict[str, set[int]] = field(default_factory=dict)
    map_writes: dict[str, set[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    work: list[Key] = field(default_factory=list)
    queued: set[Key] = field(default_factory=set)  # the keys in ``work``, each once
    returns: dict[Context, set[tuple[Context, int]]] = field(default_factory=dict)
    steps: int = 0
    thresholds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.thresholds = _widening_thresholds(self.cfg)

    # -- propagation ----------------------------------------------------------

    def push(self, ctx: Context, index: int, state: State) -> None:
        """Join ``state`` into what is known at ``index``, apart per frame layout.

        Paths that learned different frame layouts (tagged or not, IPv4 or
        IPv6, TCP or UDP), or hold packet pointers at different offsets (a
        header parsed or found truncated), stay apart, so that a header
        pointer keeps its one offset per layout, as on the verifier's own
        paths: trace partitioning, bounded by MAX_LAYOUTS. Past the bound,
        paths are joined per link and network layer only (an IPv6 header
        keeps its offset however many extension headers follow it).
        """
        seen = self.layouts.setdefault((ctx, index), set())
        layout = layout_signature(state.facts)
        sig: object = (layout, _packet_pointers(state, exact=True))
        if sig not in seen and len(seen) >= MAX_LAYOUTS:
            sig = (_SHAPED, layout, _packet_pointers(state, exact=False))
            if sig not in seen and len(seen) >= 2 * MAX_LAYOUTS:
                sig = (_MERGED, sym.network_prefix(layout))
        seen.add(sig)
        if isinstance(sig, tuple) and sig[0] == _MERGED:
            state = _anchor_state(state)
        key = (ctx, index, sig)
        old = self.states.get(key)
        if old is None:
            self.states[key] = state
            self.queued.add(key)
            self.work.append(key)
            return
        n = self.joins.get(key, 0) + 1
        self.joins[key] = n
        new = _join_states(old, state, widen=n > WIDEN_AFTER, thresholds=self.thresholds)
        if new != old:
            self.states[key] = new
            if key not in self.queued:  # its step reads the state it has then
                self.queued.add(key)
                self.work.append(key)

    def run(self, entries: Iterable[tuple[int, State]]) -> None:
        for index, state in entries:
            self.push((), index, state)
        while self.work:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self.problems.append(f"the analysis gave up after {MAX_STEPS} steps")
                return
            key = self.work.pop()
            self.queued.discard(key)
            ctx, index, _ = key
            self.step(ctx, index, self.states[key])

    # -- one instruction ------------------------------------------------------

    def step(self, ctx: Context, index: int, state: State) -> None:
        insn = self.cfg.insns[index]
        if not insn.known:
            self.problems.append(f"insn {index}: unknown instruction ({insn.reason})")
            return
        cls = insn.insn_class
        succs = self.cfg.successors(index)
        if insn.is_exit():
            self.exit(ctx, state)
            return
        if insn.is_call():
            self.call(ctx, index, insn, state)
            return
        if insn.is_jump():
            self.jump(ctx, insn, state, succs)
            return
        if insn.is_ld_imm64():
            state = self.set(state, insn.dst, self.ld_imm64(insn))
        elif insn.is_legacy_load():
            regs = dict(state.top.regs)
            for r in range(1, 6):
                regs.pop(r, None)
            regs[0] = scalar(0, U32)
            state = state.with_top(regs=regs)
        elif insn.is_memory_write() or insn.is_load():
            state = self.memory(index, insn, state)
        elif cls in (4, 7):  # ALU, ALU64
            state = self.alu(insn, state)
        else:
            self.problems.append(f"insn {index}: {insn.text()} is not followed by the analysis")
            return
        for s in succs:
            self.push(ctx, s, state)

    def set(self, state: State, reg: int, val: Val) -> State:
        regs = dict(state.top.regs)
        regs[reg] = val
        return state.with_top(regs=regs)

    def ld_imm64(self, insn: Insn) -> Val:
        src = insn.src
        kind, name = self.map_names.get(insn.index, ("", ""))
        if kind == "map":  # an ELF relocation that libbpf turns into a map fd
            src = BPF_PSEUDO_MAP_FD
        elif kind == "data":
            return (Atom("map_value", 0, None, name=name),)
        elif kind == "other":
            # An extern (__ksym address, __kconfig value): libbpf writes what
            # it resolves to into the instruction. Not the packet, any value.
            return join((Atom("mem", 0, None),), _TOP)
        if src == 0:
            return _const(insn.imm64 or 0)
        if src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX):
            raw = f"map fd {insn.imm}" if src == BPF_PSEUDO_MAP_FD else f"map #{insn.imm}"
            return (Atom("map_ptr", 0, 0, name=name or raw),)
        if src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
            off = insn.imm64 >> 32 if insn.imm64 is not None else 0
            return (Atom("map_value", off, off, name=name or f"map fd {insn.imm} value"),)
        if src == BPF_PSEUDO_BTF_ID:
            return (Atom("mem", 0, 0),)
        if src == BPF_PSEUDO_FUNC:
            return _TOP
        return _UNKNOWN

    # -- ALU --------------------------------------------------------------------

    def alu(self, insn: Insn, state: State) -> State:
        op = insn.opcode & 0xF0
        is64 = insn.insn_class == 7
        dst = state.reg(insn.dst)
        if op == BPF_END:
            bits = insn.imm
            val: Val = scalar(0, (1 << bits) - 1 if bits < 64 else U64)
            swaps = is64 or insn.opcode & BPF_TO_BE == BPF_TO_BE
            lin = _single_lin(dst)
            if lin is not None:
                lin = sym.swap_bytes(lin, bits // 8) if swaps else sym.mask(lin, (1 << bits) - 1)
            if lin is not None:
                val = (replace(val[0], lin=lin),)
            return self.set(state, insn.dst, val)
        if insn.opcode & BPF_X:
            src = state.reg(insn.src)
        else:  # imm is sign-extended to 64 bits for ALU64, taken as 32 bits for ALU
            src = _const(insn.imm) if is64 else _const(insn.imm & U32)
        if op == BPF_MOV:
            if insn.off in (8, 16, 32):  # movsx
                c = _fixed_scalar(src)
                val = _TOP if c is None else _const(_sext(c, insn.off) & (U64 if is64 else U32))
                return self.set(state, insn.dst, val if is64 or c is not None else scalar(0, U32))
            if insn.off:  # the arena address-space cast
                return self.set(state, insn.dst, _UNKNOWN)
            if not is64:
                return self.set(state, insn.dst, _trunc32(src))
            if len(src) == 1 and src[0].kind == "scalar":
                # A copy shares an identity with its source, so that a later
                # branch on either refines both (the verifier's linked
                # scalars). The identity is this instruction's; older
                # holders of it (an earlier round of a loop) lose it first.
                sid = insn.index + 1
                state = _forget_sid(state, sid)
                linked = replace(src[0], sid=sid)
                if insn.opcode & BPF_X:
                    state = self.set(state, insn.src, (linked,))
                return self.set(state, insn.dst, (linked,))
            return self.set(state, insn.dst, src)
        if op in (BPF_ADD, BPF_SUB) and is64:
            return self.set(state, insn.dst, _add_sub(dst, src, op == BPF_SUB))
        if op == BPF_SUB and not is64:
            diff = _pkt32_difference(dst, src)
            if diff is not None:
                return self.set(state, insn.dst, diff)
        if any(a.kind != "scalar" for a in (*dst, *src)):
            # Pointer arithmetic other than add/sub, or 32-bit: the verifier
            # refuses it on packet pointers; what is left is not followed.
            pointer = any(a.kind not in ("scalar",) for a in dst)
            return self.set(state, insn.dst, _UNKNOWN if pointer else _TOP)
        if op in (BPF_DIV, BPF_MOD) and insn.off == 1:  # sdiv, smod
            return self.set(state, insn.dst, scalar() if is64 else scalar(0, U32))
        result = _scalar_op(op, dst, src, is64)
        return self.set(state, insn.dst, _with_lin(result, op, dst, src, is64))

    # -- memory -------------------------------------------------------------------

    def memory(self, index: int, insn: Insn, state: State) -> State:
        size = insn.access_size or 8
        if insn.is_load():
            base = state.reg(insn.src)
            val = join(*(self.load(index, atom, insn.off, size, state) for atom in base))
            if insn.opcode & 0xE0 == _BPF_MEMSX and size < 8:
                # A sign-extending load: a negative byte is a huge unsigned number.
                val = join(*(scalar() if a.kind == "scalar" else (a,) for a in val))
            return self.set(state, insn.dst, val or _UNKNOWN)
        base = state.reg(insn.dst)
        if insn.is_store() and insn.insn_class == 2:  # ST: imm
            value = _const(insn.imm)
        else:
            value = state.reg(insn.src)
        atomic = insn.is_atomic()
        fetch = atomic and (insn.imm & BPF_FETCH or insn.imm in (BPF_XCHG, BPF_CMPXCHG))
        strong = len(base) == 1
        for atom in base:
            state = self.store(
                index, atom, insn.off, size, value, state, strong and not atomic, atomic
            )
        if fetch:
            out = 0 if insn.imm == BPF_CMPXCHG else insn.src
            fetched = join(*(self.load(index, a, insn.off, size, state) for a in base))
            state = self.set(state, out, fetched or _UNKNOWN)
        return state

    def load(self, index: int, atom: Atom, off: int, size: int, state: State) -> Val:
        kind = atom.kind
        if kind == "ctx":
            c = atom.fixed
            pointer = _CTX_POINTERS[self.prog_type].get(c + off) if c is not None else None
            if pointer is not None:
                return (Atom(pointer, 0, 0, lin=sym.const(0) if pointer == "pkt" else None),)
            return scalar(0, (1 << (8 * size)) - 1)
        if kind == "stack":
            return self.stack_read(atom, off, size, state)
        if kind in ("pkt", "pkt_meta"):
            limit = (1 << (8 * size)) - 1
            if (
                kind == "pkt"
                and atom.lin is not None
                and atom.lin.fixed
                and sym.anchored(atom.lin) is None
            ):
                # Little-endian: byte i of the value is the packet byte at pos + i.
                pos = atom.lin.plus(off)
                terms = tuple(sorted((Bits(pos.plus(i), 0, 8), 1 << (8 * i)) for i in range(size)))
                return (Atom("scalar", 0, limit, lin=Lin(terms, 0, 0)),)
            return scalar(0, limit)
        if kind == "map_value":
            self.map_reads.setdefault(atom.name, set()).add(index)
            return scalar(0, (1 << (8 * size)) - 1)
        if kind in ("mem", "map_ptr", "pkt_end"):
            return scalar(0, (1 << (8 * size)) - 1)
        return _UNKNOWN  # through an unknown or scalar base: anything

    def stack_read(self, atom: Atom, off: int, size: int, state: State) -> Val:
        if atom.frame >= len(state.frames):
            return _UNKNOWN
        stack = state.frames[atom.frame].stack
        number = scalar(0, (1 << (8 * size)) - 1 if size < 8 else U64)
        if atom.lo is None or atom.hi is None:
            return join(number, *stack.values())
        lo, hi = atom.lo + off, atom.hi + off
        if lo == hi and size == 8 and lo % 8 == 0:
            return stack.get(lo, _TOP)  # a fill; reading an unset slot is refused
        narrow = state.frames[atom.frame].narrow
        kept = narrow.get((lo, size)) if lo == hi else None
        if kept is not None:
            return kept
        low = None
        if lo == hi and size <= 4:
            for (n_lo, n_size), v in narrow.items():
                if n_lo == lo and n_size < size and len(v) == 1 and v[0].lin is not None:
                    low = (n_size, v[0].lin)
        # A narrow, unaligned or variable read: bytes of whatever the slots
        # hold. The verifier makes a number of a pointer read in part; a
        # pointer is kept here all the same (a store through it would be
        # refused, so keeping it costs nothing and needs no trust).
        covered = [v for s, v in stack.items() if s < hi + size and s + 8 > lo]
        pointers = [v for v in covered if any(a.kind != "scalar" for a in v)]
        if low is not None and not pointers:
            return (replace(number[0], low=low),)
        return join(number, *pointers)

    def store(
        self,
        index: int,
        atom: Atom,
        off: int,
        size: int,
        value: Val,
        state: State,
        strong: bool,
        atomic: bool,
    ) -> State:
        kind = atom.kind
        via = "atomic" if atomic else "store"
        if kind in ("pkt", "pkt_meta", "unknown"):
            # The verifier refuses packet accesses below the start, so a
            # span open downwards starts at byte 0.
            lo: int | None = 0 if atom.lo is None else max(0, atom.lo + off)
            hi: int | None = None if atom.hi is None else atom.hi + off + size - 1
            if kind == "unknown":
                lo, hi = None, None
            start = atom.lin.plus(off) if kind == "pkt" and atom.lin is not None else None
            keep: tuple[int, ...] = ()
            stored = _single_lin(value)
            if start is not None and stored is not None and not atomic:
                keep = sym.kept_bits(stored, start, size)
            self.accesses.add(
                MemoryAccess(index, kind, lo, hi, size, via, state.facts, start, keep)
            )
            if kind == "pkt" and start is None:
                start = Lin((), lo or 0, None if hi is None else hi - size + 1)
            return _after_write(state, start, size)
        if kind == "ctx":
            c = atom.fixed
            self.accesses.add(
                MemoryAccess(
                    index,
                    "ctx",
                    None if c is None else c + off,
                    None if c is None else c + off + size - 1,
                    size,
                    via,
                )
            )
            return state
        if kind == "map_value":
            self.map_writes.setdefault(atom.name, set()).add(index)
            return state
        if kind == "stack":
            return self.stack_write(atom, off, size, value, state, strong)
        return state  # scalar/mem/map_ptr/pkt_end: never the packet

    def stack_write(
        self, atom: Atom, off: int, size: int, value: Val, state: State, strong: bool
    ) -> State:
        if atom.frame >= len(state.frames):
            return state
        stack = dict(state.frames[atom.frame].stack)
        if atom.lo is None or atom.hi is None:
            for s in list(stack):
                stack[s] = join(stack[s], value, _TOP)
            return state.with_frame(atom.frame, stack)
        lo, hi = atom.lo + off, atom.hi + off
        narrow = {
            k: v
            for k, v in state.frames[atom.frame].narrow.items()
            if k[0] + k[1] <= lo or k[0] >= hi + size
        }
        exact = strong and lo == hi and lo % 8 == 0 and size == 8
        if exact:
            stack[lo] = value
            return state.with_frame(atom.frame, stack, narrow)
        if (
            strong
            and lo == hi
            and len(value) == 1
            and value[0].kind == "scalar"
            and value[0].hi is not None
            and value[0].hi < 1 << (8 * size)
        ):
            narrow[(lo, size)] = value
        stored = value if size == 8 else scalar(0, (1 << (8 * size)) - 1)
        first, last = max(lo - lo % 8, -_STACK_SIZE), min(hi + size - 1, -1)
        for s in range(first, last + 1, 8):
            if strong and lo == hi:
                # A narrow store into a slot: the slot now holds bytes.
                stack[s] = _TOP if s not in stack or size < 8 else stored
            else:
                stack[s] = join(stack.get(s, _TOP), stored, _TOP)
        return state.with_frame(atom.frame, stack, narrow)

    # -- jumps ----------------------------------------------------------------------

    def jump(self, ctx: Context, insn: Insn, state: State, succs: tuple[int, ...]) -> None:
        if not insn.is_cond_jump() or len(succs) == 1:
            for s in succs:
                self.push(ctx, s, state)
            return
        fall, taken = succs
        op = insn.opcode & 0xF0
        if insn.opcode & BPF_X:
            k = _fixed_scalar(state.reg(insn.src))
            if k is not None and insn.insn_class == BPF_JMP32:
                k &= U32  # JMP32 compares the low halves
        else:
            k = insn.imm & (U32 if insn.insn_class == BPF_JMP32 else U64)
        reg = state.reg(insn.dst)
        for target, branch in ((taken, True), (fall, False)):
            refined = self.refine(state, insn, reg, op, k, branch)
            if refined is not None:
                self.push(ctx, target, refined)

    def refine(
        self, state: State, insn: Insn, reg: Val, op: int, k: int | None, taken: bool
    ) -> State | None:
        """``state`` on one side of a conditional jump; None if that side cannot happen."""
        pointer = any(a.kind != "scalar" for a in reg)
        if (
            k == 0
            and op in (BPF_JEQ, BPF_JNE)
            and (len(reg) > 1 or pointer)
            and insn.insn_class == BPF_JMP
        ):
            return self.refine_null(state, insn, reg, (op == BPF_JEQ) == taken)
        if k is None or len(reg) != 1 or reg[0].kind != "scalar" or insn.opcode & 0xF0 == 0xE0:
            return state
        atom = reg[0]
        lo, hi = atom.lo or 0, U64 if atom.hi is None else atom.hi
        if insn.insn_class == BPF_JMP32 and hi > U32:
            return state
        if atom.lin is not None:
            # What the path knows of the packet bounds the value too.
            f_lo, f_hi = sym.bounds(atom.lin, state.facts)
            if f_lo >= 0 and f_hi is not None and f_hi <= hi:
                lo, hi = max(lo, f_lo), min(hi, f_hi)
        if op in (BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE):
            sign = 1 << 31 if insn.insn_class == BPF_JMP32 else 1 << 63
            if hi >= sign or k >= sign:
                return state
            op = {BPF_JSGT: BPF_JGT, BPF_JSGE: BPF_JGE, BPF_JSLT: BPF_JLT, BPF_JSLE: BPF_JLE}[op]
        rng = _branch_range(op, k, taken)
        if rng is None:  # "!=" k: impossible when the value can only be k
            if lo == hi == k:
                return None
            if lo == k:  # or it shaves k off an end of the range
                rng = (k + 1, U64)
            elif hi == k:
                rng = (0, k - 1)
            else:
                return state
        new_lo, new_hi = max(lo, rng[0]), min(hi, rng[1])
        if new_lo > new_hi:
            return None
        if (new_lo, new_hi) == (lo, hi):
            return state
        facts = state.facts
        if atom.lin is not None:
            facts = learn(facts, atom.lin, new_lo, new_hi)
            if sym.contradictory(facts):
                return None  # the packet's bytes cannot be both: not a real path
        new_atom = replace(atom, lo=new_lo, hi=new_hi)

        def fix(v: Val) -> Val:
            if atom.sid is not None and len(v) == 1 and v[0].sid == atom.sid:
                return (replace(v[0], lo=new_lo, hi=new_hi),)
            return v

        frames = list(state.frames)
        top = frames[-1]
        regs = {r: fix(v) for r, v in top.regs.items()}
        regs[insn.dst] = (new_atom,)
        stack = {s: fix(v) for s, v in top.stack.items()}
        frames[-1] = Frame(regs, stack, {k: fix(v) for k, v in top.narrow.items()})
        return State(tuple(frames), facts)

    def refine_null(self, state: State, insn: Insn, reg: Val, null: bool) -> State | None:
        """``state`` where the register is NULL (``null``) or is not: a pointer or a number.

        Pointers to the packet, the stack, the context or a map value are
        never NULL (a lookup's "or NULL" is the separate number 0).
        """
        kept: list[Atom] = []
        for a in reg:
            if a.kind in _NEVER_NULL:
                if not null:
                    kept.append(a)
            elif a.kind != "scalar":
                kept.append(a)
            elif null:
                if (a.lo or 0) == 0:
                    kept.append(replace(a, lo=0, hi=0, lin=None, low=None))
            elif not a.lo == a.hi == 0:
                kept.append(a)
        if not kept:
            return None
        if tuple(kept) == reg:
            return state
        return state.with_top(regs={**state.top.regs, insn.dst: tuple(sorted(kept))})

    # -- calls and exits --------------------------------------------------------------

    def call(self, ctx: Context, index: int, insn: Insn, state: State) -> None:
        succ = self.cfg.successors(index)
        if insn.is_pseudo_call():
            callee = insn.jump_target()
            assert callee is not None
            if len(ctx) + 1 >= MAX_FRAMES or index in ctx:
                self.problems.append(
                    f"insn {index}: calls nest deeper than {MAX_FRAMES} frames or recurse"
                )
                return
            depth = len(state.frames)
            regs: dict[int, Val] = {r: state.reg(r) for r in range(1, 6) if r in state.top.regs}
            regs[10] = (Atom("stack", 0, 0, frame=depth),)
            new = State((*state.frames, Frame(regs, {})), state.facts)
            inner = (*ctx, index)
            self.returns.setdefault(inner, set()).add((ctx, index))
            self.push(inner, callee, new)
            # A callee that already returned in this context: replay its exit.
            done = self.exits.get(inner)
            if done is not None:
                self.resume(ctx, index, done)
            return
        name, effect, call_id = self.call_row(index, insn)
        kind: Literal["helper", "kfunc"] = "kfunc" if insn.is_kfunc_call() else "helper"
        args = tuple(state.reg(r) for r in range(1, 6))
        site = CallSite(index, kind, name, call_id, effect)
        self.calls[(index, name)] = site
        if effect is not None:
            self.call_accesses(index, name, effect, args, state)
            for start, size in _written_spans(effect, args):
                state = _after_write(state, start, size)
        else:
            state = _after_write(state, None, None)
        state = _clobber_through(state, args)
        regs2 = dict(state.top.regs)
        for r in range(1, 6):
            regs2.pop(r, None)
        regs2[0] = self.call_result(name, effect, args)
        self.push(ctx, succ[0], state.with_top(regs=regs2))

    def call_row(self, index: int, insn: Insn) -> tuple[str, HelperEffect | None, int | None]:
        if insn.is_kfunc_call():
            name = self.kfunc_names.get(index, f"kfunc#{insn.imm}")
            return name, kfunc_by_name(name), None
        row = helper_by_id(insn.imm)
        return (row.name if row else helper_symbol(insn.imm)), row, insn.imm

    def call_accesses(
        self, index: int, name: str, effect: HelperEffect, args: tuple[Val, ...], state: State
    ) -> None:
        for arg, length, fixed in effect.writes_memory:
            self.arg_write(index, name, args[arg - 1], _arg_length(args, length, fixed), state)
        if effect.writes_packet_bytes and effect.offset_arg is not None:
            off = args[effect.offset_arg - 1]
            span = _arg_length(args, effect.length_arg, effect.length)
            o = _scalar_range(off)
            if o is None or span is None or o[1] > U32:
                self.accesses.add(MemoryAccess(index, "pkt", 0, None, span, name, state.facts))
            else:
                start = _single_lin(off)
                self.accesses.add(
                    MemoryAccess(
                        index, "pkt", o[0], o[1] + span - 1, span, name, state.facts, start
                    )
                )
        elif effect.writes_packet_bytes and effect.fixed_span is not None:
            lo, hi = effect.fixed_span
            self.accesses.add(MemoryAccess(index, "pkt", lo, hi, None, name, state.facts))
        elif effect.writes_packet_bytes:
            self.accesses.add(MemoryAccess(index, "pkt", 0, None, None, name, state.facts))
        if effect.writes_map and args and args[0]:
            for atom in args[0]:
                if atom.kind == "map_ptr":
                    self.map_writes.setdefault(atom.name, set()).add(index)
        elif args and args[0]:
            for atom in args[0]:
                if atom.kind == "map_ptr":
                    self.map_reads.setdefault(atom.name, set()).add(index)

    def arg_write(self, index: int, name: str, ptr: Val, length: int | None, state: State) -> None:
        for atom in ptr:
            if atom.kind in ("pkt", "unknown", "pkt_meta"):
                lo = None if atom.kind == "unknown" or atom.lo is None else max(0, atom.lo)
                hi = (
                    None
                    if atom.kind == "unknown" or atom.hi is None or length is None
                    else atom.hi + length - 1
                )
                start = atom.lin if atom.kind == "pkt" else None
                self.accesses.add(
                    MemoryAccess(index, atom.kind, lo, hi, length, name, state.facts, start)
                )
            elif atom.kind == "map_value":
                self.map_writes.setdefault(atom.name, set()).add(index)

    def call_result(self, name: str, effect: HelperEffect | None, args: tuple[Val, ...]) -> Val:
        if effect is None:
            return _UNKNOWN
        if name == "map_lookup_elem":
            maps = [a.name for a in args[0] if a.kind == "map_ptr"]
            if not maps:
                return _UNKNOWN
            return tuple(sorted({Atom("map_value", 0, 0, name=m) for m in maps})) + scalar(0, 0)
        if name in ("ringbuf_reserve",):
            return join((Atom("mem", 0, 0),), scalar(0, 0))
        if name in ("bpf_dynptr_slice", "bpf_dynptr_slice_rdwr"):
            o = _scalar_range(args[1])
            if o is None or o[1] > U32:
                return join((Atom("pkt", 0, None),), scalar(0, 0))
            return join((Atom("pkt", o[0], o[1]),), scalar(0, 0))
        return _TOP

    def exit(self, ctx: Context, state: State) -> None:
        if not ctx:
            return
        old = self.exits.get(ctx)
        merged = state if old is None else _join_states(old, state, widen=False)
        if old is not None and merged == old:
            return
        self.exits[ctx] = merged
        for caller_ctx, call in sorted(self.returns.get(ctx, ())):
            self.resume(caller_ctx, call, merged)

    def resume(self, ctx: Context, call: int, done: State) -> None:
        """Continue after the call at ``call`` once its callee returned ``done``.

        The caller's states at the call only grow, so their latest values
        stand for every path that made the call.
        """
        ret = self.cfg.successors(call)[0]
        for sig in sorted(self.layouts.get((ctx, call), ()), key=repr):
            caller = self.states[(ctx, call, sig)]
            frames = done.frames[:-1]
            top = frames[-1]
            regs = {r: v for r, v in caller.top.regs.items() if r >= 6}
            regs[0] = done.top.regs.get(0, _UNKNOWN)
            frames = (*frames[:-1], Frame(regs, top.stack, top.narrow))
            self.push(ctx, ret, State(frames, join_facts(caller.facts, done.facts)))


# --- scalar helpers ------------------------------------------------------------------


def _sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return (value - (1 << bits) if value >> (bits - 1) else value) & U64


def _fixed_scalar(val: Val) -> int | None:
    if len(val) == 1 and val[0].kind == "scalar":
        return val[0].fixed
    return None


def _single_lin(val: Val) -> Lin | None:
    return val[0].lin if len(val) == 1 and val[0].kind == "scalar" else None


def _lin_of(atom: Atom) -> Lin | None:
    """A scalar as a ``Lin``: its symbolic value, or its range as a constant part."""
    if atom.lin is not None:
        return atom.lin
    if atom.lo is None or atom.hi is None or atom.hi >= 1 << 63:
        return None
    return Lin((), atom.lo, atom.hi)


def _as_bits(atom: Atom, width: int) -> Lin | None:
    """A scalar as bit fields of a ``width``-bit operation, all below bit 32; else None.

    Its symbolic value when it has one, else one opaque field as wide as its
    range: ``dscp & 3`` is a 2-bit field whose bits are not the packet's.
    """
    if atom.kind != "scalar" or atom.hi is None:
        return None
    if atom.lin is not None:
        return atom.lin if _fits(atom.lin) else None
    w = min(atom.hi.bit_length(), width)
    if w > 32:
        return None
    return Lin(((sym.opaque(w), 1),), 0, 0) if w else sym.const(0)


def _bit_fields(op: int, a: Atom, b: Atom, k: int | None, is64: bool) -> Lin | None:
    """``a << k`` or ``a | b`` as bit fields below bit 32, when packet bits are among them.

    A shifted number keeps its low bits zero (``x << 6``), and or-ing it
    with packet bits that are zero there keeps those bits: the value of
    ``(dscp << 6) | (byte & 0x3f)`` is known to carry ``byte``'s low six
    bits. The interval of the result (``[0, 2**32)``) cannot say that.
    """
    width = 64 if is64 else 32
    if op == BPF_LSH:
        if a.lin is not None or k is None or k >= width:
            return None  # a.lin: ``_with_lin`` scales it
        x = _as_bits(a, width - k)
        shifted = None if x is None else sym.scale(x, 1 << k)
        return shifted if shifted is not None and _fits(shifted) else None
    if a.lin is None and b.lin is None:
        return None
    x, y = _as_bits(a, width), _as_bits(b, width)
    if x is None or y is None:
        return None
    both = sym.disjoint_or(x, y)
    if both is None or not any(not sym.is_opaque(t) for t, _ in both.terms):
        return None
    return both if _fits(both) else None


def _fits(lin: Lin) -> bool:
    """Whether every value of ``lin`` is below 2**32 (a bit field value stays exact)."""
    hi = sym.bounds(lin, frozenset())[1]
    return hi is not None and hi <= U32


def _with_lin(result: Val, op: int, dst: Val, src: Val, is64: bool = True) -> Val:
    """``result`` of ``dst OP src`` with its symbolic value, when the operation keeps one.

    Only where the machine result cannot have wrapped: the concrete range
    of ``result`` is below its width's limit (``_scalar_op`` returns the
    whole range when it may wrap).
    """
    if len(result) != 1 or len(dst) != 1 or len(src) != 1:
        return result
    r, a, b = result[0], dst[0], src[0]
    k = b.fixed
    # Only bits of the low bytes are kept: their symbolic value will do.
    if (
        op == BPF_AND
        and a.lin is None
        and a.low is not None
        and k is not None
        and k < 1 << (8 * a.low[0])
    ):
        kept = sym.mask(a.low[1], k)
        return result if kept is None else (replace(r, lin=kept),)
    if r.kind == "scalar" and op in (BPF_LSH, BPF_OR):
        bits = _bit_fields(op, a, b, k, is64)
        if bits is not None:
            return (replace(r, lin=bits),)
    if r.kind != "scalar" or r.hi is None or r.hi >= U32 or (a.lin is None and b.lin is None):
        return result
    lin: Lin | None = None
    if op == BPF_ADD:
        x, y = _lin_of(a), _lin_of(b)
        lin = None if x is None or y is None else sym.try_add(x, y)
    elif op == BPF_OR:
        x, y = _lin_of(a), _lin_of(b)
        lin = None if x is None or y is None else sym.disjoint_or(x, y)
    elif op == BPF_SUB and b.lin is None:
        x, y = _lin_of(a), _lin_of(b)
        lin = None if x is None or y is None else sym.sub(x, y)
    elif a.lin is None or k is None:
        return result
    elif op == BPF_MUL:
        lin = sym.scale(a.lin, k)
    elif op == BPF_LSH and k < 32:
        lin = sym.scale(a.lin, 1 << k)
    elif op == BPF_RSH:
        lin = sym.rshift(a.lin, k)
    elif op == BPF_AND:
        lin = sym.mask(a.lin, k)
    if lin is None or (lin.terms == () and lin.lo == lin.hi):
        return result
    return (replace(r, lin=lin),)


def _scalar_range(val: Val) -> tuple[int, int] | None:
    if (
        len(val) == 1
        and val[0].kind == "scalar"
        and val[0].lo is not None
        and val[0].hi is not None
    ):
        return val[0].lo, val[0].hi
    return None


def _arg_length(args: tuple[Val, ...], length_arg: int | None, fixed: int | None) -> int | None:
    if fixed is not None:
        return fixed
    if length_arg is None:
        return None
    rng = _scalar_range(args[length_arg - 1])
    return None if rng is None or rng[1] > U32 else rng[1]


def _trunc32(val: Val) -> Val:
    if len(val) == 1 and val[0].kind == "scalar" and val[0].hi is not None and val[0].hi <= U32:
        a = val[0]
        return (Atom("scalar", a.lo, a.hi, lin=a.lin),)
    if len(val) == 1 and val[0].kind == "pkt" and val[0].lin is not None:
        # The low half of a packet pointer: a number to the verifier, but
        # the difference of two such is the difference of their offsets.
        return (Atom("scalar", 0, U32, name=_PKT32, lin=val[0].lin),)
    if all(a.kind == "scalar" for a in val):
        return scalar(0, U32)
    return _UNKNOWN if any(a.kind == "unknown" for a in val) else scalar(0, U32)


_PKT32 = "low 32 bits of a packet pointer"


def _pkt32_difference(dst: Val, src: Val) -> Val | None:
    """``w(a) -= w(b)`` for packet pointers a and b: their offsets' difference, or None."""
    if len(dst) != 1 or len(src) != 1 or dst[0].name != _PKT32:
        return None
    b = src[0]
    if not (b.name == _PKT32 or b.kind == "pkt") or b.lin is None or dst[0].lin is None:
        return None
    lin = sym.sub(dst[0].lin, b.lin)
    if lin is None:
        return None
    lo, hi = sym.bounds(lin, frozenset())
    if lo < 0 or hi is None or hi > U32:
        return None
    return (Atom("scalar", lo, hi, lin=lin),)


def _add_sub(dst: Val, src: Val, sub: bool) -> Val:
    out: list[Val] = []
    for a in dst:
        for b in src:
            out.append(_add_sub_atom(a, b, sub))
    return join(*out) if out else _UNKNOWN


def _add_sub_atom(a: Atom, b: Atom, sub: bool) -> Val:
    if a.kind == "scalar" and b.kind == "scalar":
        return _scalar_op(BPF_SUB if sub else BPF_ADD, (a,), (b,), True)
    if a.kind == "unknown" or b.kind == "unknown":
        return _UNKNOWN
    if a.kind != "scalar" and b.kind != "scalar":
        # pointer - pointer is a number (the verifier allows it for the same
        # kind); pointer + pointer is refused. Two packet pointers differ by
        # their offsets: ``(void *)iph - data`` is where the IP header is.
        if sub and a.kind == b.kind == "pkt" and a.lin is not None and b.lin is not None:
            diff = sym.sub(a.lin, b.lin)
            if a.lo is not None and a.hi is not None and b.lo is not None and b.hi is not None:
                d_lo, d_hi = a.lo - b.hi, a.hi - b.lo
                if diff is not None and diff.hi is not None and d_lo >= 0:
                    return (Atom("scalar", d_lo, d_hi, lin=diff),)
        return _TOP if sub else _UNKNOWN
    if a.kind == "scalar":
        if sub:
            return _TOP  # number - pointer: refused for packet pointers
        a, b = b, a
    # a is the pointer, b the scalar.
    if b.lo is None or b.hi is None:
        return (replace(a, lo=None, hi=None, lin=None),)
    if b.hi >= 1 << 63 and b.lo < 1 << 63:
        return (replace(a, lo=None, hi=None, lin=None),)  # may be negative or positive
    lo_b, hi_b = (b.lo, b.hi) if b.hi < 1 << 63 else (b.lo - (1 << 64), b.hi - (1 << 64))
    if sub:
        lo_b, hi_b = -hi_b, -lo_b
    lo = None if a.lo is None else a.lo + lo_b
    hi = None if a.hi is None else a.hi + hi_b
    lin: Lin | None = None
    if a.lin is not None:
        if b.lin is not None and b.hi < 1 << 63 and not sym.has_opaque(b.lin):
            lin = sym.sub(a.lin, b.lin) if sub else sym.try_add(a.lin, b.lin)
        elif b.lin is None or sym.has_opaque(b.lin):
            lin = a.lin.plus(lo_b, hi_b)
    return (replace(a, lo=lo, hi=hi, lin=lin),)


def _scalar_op(op: int, dst: Val, src: Val, is64: bool) -> Val:
    a, b = dst[0], src[0]
    if (
        len(dst) != 1
        or len(src) != 1
        or a.lo is None
        or a.hi is None
        or b.lo is None
        or b.hi is None
    ):
        return scalar() if is64 else scalar(0, U32)
    limit = U64 if is64 else U32
    alo, ahi = (a.lo, a.hi) if is64 or a.hi <= U32 else (0, U32)
    blo, bhi = (b.lo, b.hi) if is64 or b.hi <= U32 else (0, U32)
    if not is64:
        blo, bhi = blo & U32, bhi & U32
        if blo > bhi:
            blo, bhi = 0, U32
    lo: int
    hi: int
    if op == BPF_ADD:
        lo, hi = alo + blo, ahi + bhi
    elif op == BPF_SUB:
        lo, hi = alo - bhi, ahi - blo
    elif op == BPF_MUL:
        lo, hi = alo * blo, ahi * bhi
    elif op == BPF_AND:
        lo, hi = 0, min(ahi, bhi)
    elif op == BPF_LSH:
        if bhi >= (64 if is64 else 32):
            return scalar(0, limit)
        lo, hi = alo << blo, ahi << bhi
    elif op == BPF_RSH:
        if bhi >= (64 if is64 else 32):
            return scalar(0, limit)  # the machine masks the amount
        lo, hi = alo >> bhi, ahi >> blo
    elif op == BPF_DIV:
        lo, hi = (0, ahi) if blo == 0 else (alo // bhi, ahi // blo)
    elif op == BPF_MOD:
        lo, hi = 0, ahi if blo == 0 else min(ahi, bhi - 1)
    elif op == BPF_ARSH or op not in (0x40, 0xA0):
        return scalar(0, limit)
    else:  # OR, XOR
        if alo == ahi and blo == bhi:
            v = (alo | blo) if op == 0x40 else (alo ^ blo)
            lo, hi = v, v
        else:
            bits = max(ahi, bhi).bit_length()
            lo, hi = 0, (1 << bits) - 1
    if lo < 0 or hi > limit:
        return scalar(0, limit)
    return (Atom("scalar", lo, hi),)


def _branch_range(op: int, k: int, taken: bool) -> tuple[int, int] | None:
    """Unsigned values of the register on one side of ``if reg OP k``."""
    table: dict[int, Callable[[], tuple[tuple[int, int] | None, tuple[int, int] | None]]] = {
        BPF_JEQ: lambda: ((k, k), None),
        BPF_JNE: lambda: (None, (k, k)),
        BPF_JGT: lambda: ((k + 1, U64), (0, k)),
        BPF_JGE: lambda: ((k, U64), (0, k - 1) if k > 0 else (1, 0)),
        BPF_JLT: lambda: ((0, k - 1) if k > 0 else (1, 0), (k, U64)),
        BPF_JLE: lambda: ((0, k), (k + 1, U64)),
    }
    row = table.get(op)
    if row is None:
        return None
    on_taken, on_fall = row()
    return on_taken if taken else on_fall


# --- entry point -----------------------------------------------------------------------


def analyze_provenance(
    cfg: Cfg,
    prog_type: ProgType,
    *,
    map_names: Mapping[int, tuple[str, str]] | None = None,
    kfunc_names: Mapping[int, str] | None = None,
) -> ProvenanceResult:
    """Follow every path of the program in ``cfg`` from its entry and its callbacks.

    ``map_names``: for relocated ``ld_imm64`` instructions of an ELF object,
    ``("map", name)`` or ``("data", section or variable)``. The entry starts
    with R1 = ctx and R10 = the stack. A callback (a
    function whose address the program takes) starts with every argument
    ``unknown``: the helper that calls it decides what it gets.
    """
    run = _Run(cfg, prog_type, map_names or {}, kfunc_names or {})
    entry_regs: dict[int, Val] = {1: (Atom("ctx", 0, 0),), 10: (Atom("stack", 0, 0),)}
    entries = [(0, State((Frame(entry_regs, {}),)))]
    for start in cfg.entries[1:]:
        regs: dict[int, Val] = {r: _UNKNOWN for r in range(1, 6)}
        regs[10] = (Atom("stack", 0, 0),)
        entries.append((start, State((Frame(regs, {}),))))
    run.run(entries)
    reached = frozenset(i for (_, i, _) in run.states)
    return ProvenanceResult(
        accesses=tuple(sorted(run.accesses, key=lambda a: (a.insn, a.target, a.lo or 0, a.via))),
        calls=tuple(sorted(run.calls.values(), key=lambda c: c.insn)),
        map_reads={k: frozenset(v) for k, v in run.map_reads.items()},
        map_writes={k: frozenset(v) for k, v in run.map_writes.items()},
        reached=reached,
        problems=tuple(dict.fromkeys(run.problems)),
    )


def _map_values(state: State, fn: Callable[[Val], Val], facts: Facts) -> State:
    """``state`` with ``fn`` applied to every register, slot and narrow store, and ``facts``."""
    frames = tuple(
        Frame(
            {r: fn(v) for r, v in f.regs.items()},
            {o: fn(v) for o, v in f.stack.items()},
            {k: fn(v) for k, v in f.narrow.items()},
        )
        for f in state.frames
    )
    return State(frames, facts)


def _written_spans(
    effect: HelperEffect, args: tuple[Val, ...]
) -> list[tuple[Lin | None, int | None]]:
    """The packet bytes a helper or kfunc call may change: ``(start, size)``, start None: any.

    A helper that only invalidates packet pointers (pull_data) moves no byte.
    """
    if effect.changes_length_or_layout:
        return [(None, None)]
    spans: list[tuple[Lin | None, int | None]] = []
    if effect.writes_packet_bytes:
        if effect.fixed_span is not None:
            lo, hi = effect.fixed_span
            spans.append((sym.const(lo), hi - lo + 1))
        elif effect.offset_arg is None:
            return [(None, None)]
        else:
            off = args[effect.offset_arg - 1]
            start = _single_lin(off)
            if start is None:
                rng = _scalar_range(off)
                start = None if rng is None else Lin((), rng[0], rng[1])
            spans.append((start, _arg_length(args, effect.length_arg, effect.length)))
    for arg, length_arg, fixed in effect.writes_memory:
        for atom in args[arg - 1]:
            if atom.kind in ("pkt", "unknown"):
                spans.append((atom.lin, _arg_length(args, length_arg, fixed)))
    return spans


def _after_write(state: State, start: Lin | None, size: int | None) -> State:
    """``state`` after a write of packet bytes ``[start, start + size)`` (start None: any).

    Facts about those bytes are forgotten, and so is every symbolic value
    that reads them, directly or through a position: a register holding
    ``byte 22`` no longer holds the packet's byte 22 once that was written.
    """
    facts = state.facts
    stale: dict[Lin, bool] = {}

    def reads(lin: Lin | None) -> bool:
        if lin is None or not lin.terms:
            return False
        if lin not in stale:
            stale[lin] = sym.reads_written(lin, start, size, facts)
        return stale[lin]

    def fix(v: Val) -> Val:
        if not any(reads(a.lin) or (a.low is not None and reads(a.low[1])) for a in v):
            return v
        return tuple(
            sorted(
                replace(
                    a,
                    lin=None if reads(a.lin) else a.lin,
                    low=None if a.low is not None and reads(a.low[1]) else a.low,
                )
                for a in v
            )
        )

    return _map_values(state, fix, sym.forget(facts, start, size))


def _packet_pointers(state: State, exact: bool) -> tuple[tuple[int, object], ...]:
    """Which registers and slots of the top frame hold packet pointers, and where.

    ``exact``: their offsets; else only the symbolic part of each offset
    (``14 + 4·ihl`` and ``34 + 4·ihl`` alike are "behind the IPv4
    options"), so that the turns of a loop walking the packet join, while
    a header pointer and a NULL one (a header found truncated) stay apart.
    """
    top = state.top

    def shape(a: Atom) -> object:
        if exact:
            return (a.lo, a.hi, a.lin)
        return None if a.lin is None else a.lin.terms

    out = [(r, shape(a)) for r, v in top.regs.items() for a in v if a.kind == "pkt"]
    out += [(s - 1000, shape(a)) for s, v in top.stack.items() for a in v if a.kind == "pkt"]
    return tuple(sorted(out, key=repr))


def _anchor_state(state: State) -> State:
    """``state`` with positions re-expressed from the L4 header's start where they can be.

    Used where paths of different frame layouts are joined: each path's
    "UDP header + 8" has its own symbolic form, but the anchored form is
    common to them all (analyzer/symbolic.py, ``Anchor``).
    """
    cache: dict[Lin, Lin | None] = {}

    def fix(v: Val) -> Val:
        out = []
        for a in v:
            if a.lin is not None and a.lin.terms:
                if a.lin not in cache:
                    cache[a.lin] = sym.anchor(a.lin, state.facts)
                moved = cache[a.lin]
                if moved is not None:
                    a = replace(a, lin=moved)
            out.append(a)
        return tuple(out)

    return _map_values(state, fix, state.facts)


def _forget_sid(state: State, sid: int) -> State:
    """``state`` with identity ``sid`` taken from every register and slot holding it."""

    def strip(v: Val) -> Val:
        if any(a.sid == sid for a in v):
            return tuple(sorted(replace(a, sid=None) if a.sid == sid else a for a in v))
        return v

    return _map_values(state, strip, state.facts)


def _clobber_through(state: State, args: tuple[Val, ...]) -> State:
    """``state`` after a helper or kfunc that may write through its pointer arguments.

    Every stack slot an argument may point at or above (up to the frame's
    top) may now hold any number; what it held before is kept too (a weak
    update), so a spilled pointer the call did not touch is not lost. An
    argument of unknown provenance may point into any frame.
    """
    frames = list(state.frames)
    for arg in args:
        for atom in arg:
            if atom.kind == "stack" and atom.frame < len(frames):
                targets = [(atom.frame, -_STACK_SIZE if atom.lo is None else atom.lo)]
            elif atom.kind == "unknown":
                targets = [(f, -_STACK_SIZE) for f in range(len(frames))]
            else:
                continue
            for depth, lo in targets:
                f = frames[depth]
                first = max(lo - lo % 8, -_STACK_SIZE)
                stack = dict(f.stack)
                for slot in range(first, 0, 8):
                    stack[slot] = join(stack.get(slot, _TOP), _TOP)
                below = {k: v for k, v in f.narrow.items() if k[0] + k[1] <= first}
                frames[depth] = Frame(f.regs, stack, below)
    return State(tuple(frames), state.facts)
