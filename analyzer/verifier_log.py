"""Reading kernel verifier logs: completeness, the short form of a rejection, and
the register state on every explored path.

Log lines this module relies on (kernel 6.x, log level 1 or 2):

- ``N: (73) *(u8 *)(r1 +15) = r2  ; R1=pkt(r=34)`` an instruction line
- ``; int act(struct __sk_buff *skb) @ dec_ttl.c:12`` a source line (BTF)
- ``processed N insns (limit 1000000) max_states_per_insn ...`` the last line
  of every log the kernel wrote to the end, accepted or rejected

``parse_log`` reads a level-2 log in one pass into an ``InsnState`` per
instruction line (per path: an instruction explored twice appears twice),
with the registers and stack slots the verifier knew after it. Print
formats are those of kernel/bpf/log.c (``print_verifier_state``,
``print_reg_state``) and kernel/bpf/verifier.c (``do_check``,
``check_func_call``, ``prepare_func_exit``) from Linux 6.x, plus the older
``R1_w=`` liveness suffixes and ``inv`` scalars of 5.x.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from analyzer.errors import LogError
from analyzer.helpers import HelperEffect, helper_by_id, kfunc_by_name

_INSN = re.compile(r"^(?:frame\d+: )?(\d+): \([0-9a-f]{2}\)")
_SOURCE = re.compile(r"^; (?P<text>.*?)(?: @ (?P<file>[^:@]+):(?P<line>\d+))?$")
_PROCESSED = re.compile(r"^processed (\d+) insns \(limit (\d+)\)")


@dataclass(frozen=True, slots=True)
class Hint:
    """A known failure pattern and what the author should do about it."""

    pattern: re.Pattern[str]
    advice: str


# Known rejection reasons, rewritten into advice (as libbpf's
# fixup_verifier_log does). Patterns are the kernel's messages in
# kernel/bpf/verifier.c.
HINTS: tuple[Hint, ...] = (
    Hint(
        re.compile(r"invalid access to packet|offset is outside of the packet"),
        "check the access against data_end first, e.g. with the extframe_parse_* helpers",
    ),
    Hint(
        re.compile(r"invalid mem access 'map_value_or_null'|invalid mem access '(?:scalar|inv)'"),
        "a pointer may be NULL here: test the result of bpf_map_lookup_elem() before using it",
    ),
    Hint(
        re.compile(r"unknown func|program of this type cannot use helper"),
        "this helper is not available to tc programs",
    ),
    Hint(
        re.compile(r"back-edge|infinite loop detected|loop is not bounded"),
        "bound the loop with a constant trip count the verifier can see",
    ),
    Hint(
        re.compile(r"R0 !read_ok|At program exit the register R0"),
        "the program must return a value (EXTFRAME_CONTINUE or EXTFRAME_DROP)",
    ),
    Hint(
        re.compile(r"BPF program is too large|too many states"),
        "the program is too complex to verify: split it or simplify its loops",
    ),
    Hint(
        re.compile(r"invalid read from stack|invalid indirect read from stack"),
        "a stack variable is read before it is written: initialise it",
    ),
)


@dataclass(frozen=True, slots=True)
class LogSummary:
    """The short form of a verifier log.

    ``reason``: the verifier's own words for why it stopped (one line, or two
    when the first needs the second for context). ``insn``: the index of the
    last instruction it looked at. ``source_*``: the C line that instruction
    came from, when the object had BTF line info. ``hint``: advice for a
    known pattern. ``omitted_lines``: how many log lines the summary leaves out.
    """

    reason: str
    insn: int | None = None
    source_file: str | None = None
    source_line: int | None = None
    source_text: str | None = None
    hint: str | None = None
    omitted_lines: int = 0
    complete: bool = False


def is_complete(log: str) -> bool:
    """Whether the log ends the way every complete kernel log ends.

    A log without its final ``processed N insns`` line was cut short (the
    buffer was too small) or is not a verifier log at all.
    """
    lines = [ln for ln in log.splitlines() if ln.strip()]
    return any(_PROCESSED.match(ln) for ln in lines[-3:])


def processed_insns(log: str) -> int | None:
    """The instruction count from the ``processed N insns`` line, if any."""
    for ln in reversed(log.splitlines()):
        m = _PROCESSED.match(ln)
        if m:
            return int(m.group(1))
    return None


# Lines after the last instruction that the level-2 parser does not know but
# that are an error's context, not the error (kernel/bpf/verifier.c, 6.18):
# the two states of "infinite loop detected", strongly connected components.
_CONTEXT = re.compile(r"^(?:(?:cur|old) state: |SCC (?:enter|exit) )")


def summarize(log: str) -> LogSummary:
    """The reason, instruction and C source line of a (rejected) log.

    The reason is the verifier's first error line after the last instruction
    it looked at: the lines there that ``parse_log`` does not know, less the
    context above (statistics, source lines, state dumps, ``mark_precise:``
    backtracking and liveness are known to it). A short first line
    (``Unreleased reference id=2 alloc_insn=12``) gets the next as context.
    """
    lines = [ln.rstrip() for ln in log.splitlines() if ln.strip()]
    last_insn_at = -1
    insn: int | None = None
    src: tuple[str | None, int | None, str | None] = (None, None, None)
    for i, ln in enumerate(lines):
        m = _INSN.match(ln)
        if m:
            last_insn_at, insn = i, int(m.group(1))
            continue
        s = _SOURCE.match(ln)
        if s and s.group("file"):
            src = (s.group("file"), int(s.group("line")), s.group("text"))
    after = parse_log(lines[max(last_insn_at, 0) :]).error_lines
    reasons = [ln for ln in after if not _CONTEXT.match(ln)]
    if not reasons:
        reason = lines[-1] if lines else "empty verifier log"
    elif len(reasons) >= 2 and len(reasons[0]) < 40:
        reason = f"{reasons[0]}: {reasons[1]}"
    else:
        reason = reasons[0]
    hint = next((h.advice for h in HINTS if h.pattern.search(" ".join(reasons) or reason)), None)
    shown = 1 + (1 if ": " in reason and len(reasons) >= 2 else 0)
    return LogSummary(
        reason=reason,
        insn=insn,
        source_file=src[0],
        source_line=src[1],
        source_text=src[2],
        hint=hint,
        omitted_lines=max(0, len(lines) - shown),
        complete=is_complete(log),
    )


# --- The level-2 parser ------------------------------------------------------

RegKind = Literal[
    "ctx",
    "pkt",
    "pkt_meta",
    "pkt_end",
    "map_ptr",
    "map_value",
    "map_value_or_null",
    "map_key",
    "fp",
    "scalar",
    "other",
    "unknown",
]

# reg_type_str() names (kernel/bpf/log.c) that get a kind of their own; every
# other pointer type (mem, ptr_<btf type>, dynptr_*, sock, ...) is "other".
_KINDS: Mapping[str, RegKind] = {
    "ctx": "ctx",
    "pkt": "pkt",
    "pkt_meta": "pkt_meta",
    "pkt_end": "pkt_end",
    "map_ptr": "map_ptr",
    "map_value": "map_value",
    "map_value_or_null": "map_value_or_null",
    "map_key": "map_key",
    "fp": "fp",
    "scalar": "scalar",
    "inv": "scalar",  # SCALAR_VALUE in 5.x logs
}

# Old (5.x) bound names, as print_verifier_state() wrote them, to 6.x names.
_BOUND_NAMES: Mapping[str, str] = {
    "smin_value": "smin",
    "smax_value": "smax",
    "umin_value": "umin",
    "umax_value": "umax",
    "s32_min_value": "smin32",
    "s32_max_value": "smax32",
    "u32_min_value": "umin32",
    "u32_max_value": "umax32",
}
_BOUNDS = ("smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32")
_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RegType:
    """One register or stack slot as the verifier printed it (``pkt(off=14,r=34)``).

    ``kind`` classifies the printed type name ``name``; ``off`` is the fixed
    offset (``off=``, or the stack offset of ``fp-8``); ``range`` the bytes
    known to be in the packet past the pointer (``r=``); ``value`` a constant
    scalar; the bounds and ``var_off`` (value, mask) describe the variable
    part when printed; ``extra`` keeps every other ``name=value`` printed
    (``map=counts``, ``sz=4``, ``ref_obj_id=2``). ``raw`` is the text itself.
    """

    kind: RegKind
    raw: str
    name: str = ""
    off: int = 0
    range: int | None = None
    id: int | None = None
    value: int | None = None
    smin: int | None = None
    smax: int | None = None
    umin: int | None = None
    umax: int | None = None
    smin32: int | None = None
    smax32: int | None = None
    umin32: int | None = None
    umax32: int | None = None
    var_off: tuple[int, int] | None = None
    precise: bool = False
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def is_packet(self) -> bool:
        """Whether this is a pointer into packet data (``pkt`` or ``pkt_meta``)."""
        return self.kind in ("pkt", "pkt_meta")

    def bounds(self) -> tuple[int, int] | None:
        """Unsigned bounds of the variable part (a constant's value for scalars).

        For a pointer, the variable part is what was added to it beyond ``off``
        (``(0, 0)`` when nothing was). None when the log gives no upper bound.
        """
        if self.value is not None:
            return (self.value & _U64_MAX, self.value & _U64_MAX)
        if self.var_off is None and self.umin is None and self.umax is None:
            if self.kind == "scalar":
                return None  # "scalar()": nothing known
            return (0, 0)
        lo = self.umin or 0
        hi = _U64_MAX if self.umax is None else self.umax
        if self.var_off is not None:
            lo = max(lo, self.var_off[0])
            hi = min(hi, self.var_off[0] | self.var_off[1])
        return None if hi == _U64_MAX else (lo, hi)


#: A register the log never described, or one a call may have clobbered.
UNKNOWN = RegType(kind="unknown", raw="?")
# What clear_all_pkt_pointers() leaves in a register or a spilled slot:
# a scalar or NOT_INIT (kernel/bpf/verifier.c: mark_reg_invalid), not printed.
_INVALIDATED = RegType(kind="unknown", raw="?", name="invalidated")


@dataclass(frozen=True, slots=True)
class SourceLine:
    """The C source line the log names before instructions (``; text @ file:line``)."""

    text: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InsnState:
    """One instruction line of the log, on one explored path.

    ``insn`` is the instruction index (in 8-byte slots), ``opcode`` the byte
    the log printed in ``(73)``, ``text`` the kernel's disassembly, ``frame``
    the call depth (0 = the function being verified, 1 = its callee, ...),
    ``func`` the subprogram verified on its own (0 = the program, N = global
    function ``func#N``), ``path`` the explored path (a new one at each
    ``from X to Y:``). ``regs`` and ``stack`` (keyed by offset, ``-8`` for
    ``fp-8``) are the registers and stack slots of ``frame`` after the
    instruction, as far as the log tells: what it printed after this
    instruction (``printed``), over what it last printed about the others on
    this path. A register absent from ``regs`` is one the log never
    described here; treat it as unknown (``reg()`` does). ``range`` and the
    scalar bounds of registers not in ``printed`` may be stale: the verifier
    refines linked registers at branches without printing them; kinds and
    fixed offsets are kept exact by forgetting R1-R5 at calls and packet
    pointers at calls that may invalidate them.
    """

    insn: int
    frame: int
    path: int
    opcode: int
    text: str
    regs: Mapping[int, RegType]
    stack: Mapping[int, RegType]
    printed: frozenset[int]
    source: SourceLine | None = None
    func: int = 0

    def reg(self, regno: int) -> RegType:
        """The type of register ``regno`` after this instruction; ``UNKNOWN`` if not known."""
        return self.regs.get(regno, UNKNOWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedLog:
    """What ``parse_log`` read from a log.

    ``complete``: the ``processed N insns`` trailer came after the last
    instruction. ``rejected``: lines the parser does not know follow the last
    instruction (the verifier's error, also in ``error_lines``). ``paths``:
    how many explored paths the log shows. ``safe_lines``: paths cut short
    as equivalent to one already verified (``N: safe``). ``listing``: opcode
    by instruction from the ``Live regs before insn:`` block (Linux 6.18).
    ``subprogs``: start instruction by ``func#N``. ``unrecognized``: lines
    neither understood nor known noise, anywhere in the log.
    """

    insns: tuple[InsnState, ...]
    complete: bool
    processed_insns: int | None
    insn_limit: int | None
    rejected: bool
    error_lines: tuple[str, ...]
    paths: int
    safe_lines: int
    listing: Mapping[int, int]
    subprogs: Mapping[int, int]
    verification_time_us: int | None
    stack_depth: tuple[int, ...]
    unrecognized: int

    @property
    def error(self) -> str | None:
        """The verifier's error message (its first line), when it rejected the program."""
        return self.error_lines[0] if self.error_lines else None

    @property
    def visits(self) -> int:
        """Instruction lines plus ``safe`` lines: what ``processed N insns`` counts."""
        return len(self.insns) + self.safe_lines


_A = re.ASCII
_LIVE_HEADER = "Live regs before insn:"
# "      0: .1........ (61) r1 = *(u32 *)(r1 +76)" (Linux 6.18 liveness listing)
_LIVE_LINE = re.compile(r"^\s+(\d+): [0-9.]+ \(([0-9a-f]{2})\)", _A)
# "12: (73) *(u8 *)(r1 +8) = r3          ; frame1: R1=pkt(off=14,r=34) R3=1":
# the kernel pads the instruction and prints " ; " and the state after it
# (print_insn_state); disassembly never contains " ; ". Frame numbers are one
# digit: MAX_CALL_FRAMES is 8.
_INSN_SEPARATOR = " ; "
_INSN_LINE = re.compile(r"^(?:frame(\d): )?(\d+): \(([0-9a-f]{2})\) (.*)$", _A)
_STATE = re.compile(r"^(?:frame(\d): ?)?((?:R\d+|fp-?\d+)\S*=.*)$", _A)
# "51: R3=scalar(...) R4=pkt(...)", "9: frame1: R1=pkt(off=14,r=14) R10=fp0"
_STATE_LINE = re.compile(r"^(\d+): (?:frame(\d): ?)?((?:R\d+|fp-?\d+)\S*=.*)$", _A)
# " R10=fp0" / " frame1: R1=pkt(off=14,r=14)" inside caller:/callee: blocks
_BLOCK_LINE = re.compile(r"^ (?:frame(\d): ?)?((?:R\d+|fp-?\d+)\S*=.*)$", _A)
_SAFE_LINE = re.compile(r"^(\d+): safe$", _A)
_FROM_LINE = re.compile(
    r"^from (\d+) to (\d+)(?: \(speculative execution\))?: ?(?:frame(\d): ?)?(.*)$", _A
)
# "; if (ttl <= 1) { @ dec_ttl.c:45" (verbose_linfo); the file part.
_SOURCE_PLACE = re.compile(r"^([^:@]+):(\d+)$", _A)
# Kernel log lines are short (a state print is a few KiB at most); longer
# lines are not a verifier's, and skipping them keeps the pass linear.
_MAX_LINE = 64 << 10
_TO_CALLER = re.compile(r"^to caller at (\d+):$", _A)
_FUNC_START = re.compile(r"^func#(\d+) @(\d+)$", _A)
_VALIDATING = re.compile(r"^Validating .*\(\) func#(\d+)\.\.\.$", _A)
_PROCESSED_FULL = re.compile(r"^processed (\d+) insns \(limit (\d+)\)", _A)
_TIME = re.compile(r"^verification time (\d+) usec$", _A)
_DEPTH = re.compile(r"^stack depth (\d+(?:\+\d+)*)$", _A)
_CALL_TEXT = re.compile(r"^call ([A-Za-z_]\w*)#(-?\d+)$", _A)
# Level-2 chatter that carries nothing the parser needs (precision
# backtracking, liveness, global-function notes): kernel/bpf/verifier.c
# mark_precise/backtrack_insn, kernel/bpf/liveness.c (6.18).
_NOISE = re.compile(
    r"^(?:mark_precise: |frame \d+: propagating |propagating |last_idx |regs=|"
    r"parent (?:didn't have|already had) |\(\d+\) frame \d+ insn |\(\d+\) live stack |"
    r"Func#\d+ \('.*'\) is )",
    _A,
)
# Headers of the state dumps around bpf-to-bpf calls (check_func_call,
# prepare_func_exit); "to caller at N:" has a pattern of its own.
_BLOCKS: Mapping[str, str] = {
    "caller:": "caller",
    "callee:": "callee",
    "returning from callee:": "returning",
}
_STATE_TOKEN = re.compile(r"^(?:R(\d+)|fp(-?\d+))(?:_[A-Za-z]+)?=(.*)$", _A)
_ID_DELTA = re.compile(r"^(\d+)([+-]\d+)?$", _A)
_NUMBER = re.compile(r"^-?(?:0x[0-9a-fA-F]+|\d+)$", _A)
_SLOT_BYTES = re.compile(r"^[?mr0dif]+$", _A)
_MAX_ERROR_LINES = 20
_CALLER_SAVED = range(6)  # R0-R5: clobbered by every call


def _to_int(text: str, base: int = 0) -> int | None:
    try:
        return int(text, base)
    except ValueError:
        return None


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@lru_cache(maxsize=8192)
def parse_reg_type(text: str) -> RegType:
    """The ``RegType`` for one printed value (``pkt(off=14,r=34)``, ``0xffff``, ``fp-8``)."""
    raw = text
    precise = False
    # A 'P' marks a precise scalar (print_reg_state: "P" before scalars).
    if text.startswith("P") and len(text) > 1 and (text[1] in "-0123456789" or text[1:4] == "sca"):
        precise, text = True, text[1:]
    if _NUMBER.match(text):
        value = _to_int(text)
        return RegType(kind="scalar", raw=raw, name="scalar", value=value, precise=precise)
    if _SLOT_BYTES.match(text):
        # Stack slot bytes (slot_type_char: ? invalid, m misc, 0 zero, r
        # spilled part of a scalar, d dynptr, i iterator, f irq flag).
        chars = set(text)
        kind: RegKind = (
            "unknown" if chars == {"?"} else "scalar" if chars <= set("?m0r") else "other"
        )
        return RegType(kind=kind, raw=raw, name=text)
    head, paren, rest = text.partition("(")
    fields = rest[:-1] if paren and rest.endswith(")") else rest
    if head.startswith("fp") and (head == "fp" or head[2] in "-0123456789["):
        # PTR_TO_STACK with a constant offset: "fp-8", "fp0", "fp[1]-8".
        # "[1]": the frame the pointer points into, when not the current one.
        frameno, _, tail = head[2:].rpartition("]")
        off = _to_int(tail) if tail else 0
        extra = (("frame", frameno.lstrip("[")),) if frameno else ()
        base = RegType(kind="fp", raw=raw, name="fp", off=off or 0, extra=extra)
        return _with_fields(base, fields)
    if head.startswith("inv") and head != "inv" and head[3:] and head[3] in "P-0123456789":
        # 5.x scalars: "inv16", "invP0", "invP(...)".
        tail = head[3:]
        if tail.startswith("P"):
            precise, tail = True, tail[1:]
        value = _to_int(tail) if tail else None
        base = RegType(kind="scalar", raw=raw, name="scalar", value=value, precise=precise)
        return _with_fields(base, fields)
    kind = _KINDS.get(head, "unknown" if head in ("", "?") else "other")
    return _with_fields(RegType(kind=kind, raw=raw, name=head, precise=precise), fields)


def _with_fields(base: RegType, fields: str) -> RegType:
    """``base`` with the ``name=value`` list printed in parentheses applied."""
    if not fields:
        return base
    changes: dict[str, Any] = {}
    extra: list[tuple[str, str]] = []
    for item in _split_top(fields, ","):
        names = item.split("=")
        if len(names) < 2:
            extra.append((item, ""))
            continue
        value = names[-1]
        for name in names[:-1]:
            name = _BOUND_NAMES.get(name, name)
            if name in _BOUNDS:
                changes[name] = _to_int(value)
            elif name == "off":
                changes["off"] = _to_int(value) or 0
            elif name == "r":
                changes["range"] = _to_int(value)
            elif name == "id":
                # "id=5-1": a scalar linked to id 5 with a constant delta.
                linked = _ID_DELTA.match(value)
                if linked is None:
                    extra.append((name, value))
                    continue
                changes["id"] = int(linked.group(1))
                if linked.group(2):
                    extra.append(("id_delta", linked.group(2)))
            elif name == "var_off":
                v, _, m = value.strip("()").partition(";")
                tn_value, tn_mask = _to_int(v.strip()), _to_int(m.strip())
                if tn_value is not None and tn_mask is not None:
                    changes["var_off"] = (tn_value, tn_mask)
            elif name == "imm":
                # A pointer whose variable part is a known constant (printed
                # in hex without 0x): the tnum (imm; 0).
                imm = _to_int(value, 16)
                if imm is not None:
                    changes["var_off"] = (imm, 0)
            else:
                extra.append((name, value))
    return dataclasses.replace(base, extra=base.extra + tuple(extra), **changes)


def _parse_state(text: str) -> tuple[dict[int, RegType], dict[int, RegType]]:
    """Registers and stack slots of one printed state (``R1=ctx() R10=fp0 fp-8=mmmm????``)."""
    regs: dict[int, RegType] = {}
    stack: dict[int, RegType] = {}
    for token in _split_top(text.strip(), " "):
        m = _STATE_TOKEN.match(token)
        if not m:
            continue
        if m.group(1) is not None:
            regno = int(m.group(1))
            if regno <= 10:
                regs[regno] = parse_reg_type(m.group(3))
        else:
            stack[int(m.group(2))] = parse_reg_type(m.group(3))
    return regs, stack


@dataclass
class _Frame:
    regs: dict[int, RegType] = field(default_factory=dict)
    stack: dict[int, RegType] = field(default_factory=dict)


@dataclass
class _Pending:
    insn: int
    frame: int
    opcode: int
    text: str
    printed: frozenset[int]
    source: SourceLine | None
    has_state: bool  # the state after it was printed (on its line or the next)


class _Parser:
    """The state of one pass over a log: frames, path, the instruction awaiting its state."""

    def __init__(self) -> None:
        self.insns: list[InsnState] = []
        self.frames: list[_Frame] = [_Frame()]
        self.cur = 0
        self.path = 0
        self.paths = 0
        self.func = 0
        self.source: SourceLine | None = None
        self.pending: _Pending | None = None
        self.in_listing = False
        self.block: str | None = None  # caller / callee / returning / to_caller
        self.return_to: int | None = None
        self.listing: dict[int, int] = {}
        self.subprogs: dict[int, int] = {}
        self.processed: int | None = None
        self.limit: int | None = None
        self.complete = False
        self.time_us: int | None = None
        self.depth: tuple[int, ...] = ()
        self.safe_lines = 0
        self.unrecognized = 0
        self.tail: list[str] = []  # unknown lines since the last instruction

    # -- frames ---------------------------------------------------------------

    def frame(self, n: int) -> _Frame:
        while len(self.frames) <= n:
            self.frames.append(_Frame())
        return self.frames[n]

    def overlay(self, n: int, regs: Mapping[int, RegType], stack: Mapping[int, RegType]) -> None:
        f = self.frame(n)
        f.regs.update(regs)
        f.stack.update(stack)

    def replace(self, n: int, regs: dict[int, RegType], stack: dict[int, RegType]) -> None:
        # print_verifier_state(..., print_all=true) prints every live register
        # of the frame, so what it leaves out is NOT_INIT.
        self.frame(n)
        self.frames[n] = _Frame(regs, stack)

    def invalidate_packet_pointers(self) -> None:
        # clear_all_pkt_pointers() walks every frame's registers and spilled
        # slots without printing them (kernel/bpf/verifier.c).
        for f in self.frames:
            for table in (f.regs, f.stack):
                for k, v in table.items():
                    if v.kind in ("pkt", "pkt_meta", "pkt_end"):
                        table[k] = _INVALIDATED

    def call_effects(self, text: str) -> None:
        """Forget what a call changes without printing it."""
        f = self.frame(self.cur)
        for r in _CALLER_SAVED:
            f.regs.pop(r, None)
        m = _CALL_TEXT.match(text)
        row: HelperEffect | None = None
        if m:
            row = helper_by_id(int(m.group(2)))
            if row is None or row.symbol != m.group(1):
                row = kfunc_by_name(m.group(1))
        # bpf-to-bpf and unknown calls count as invalidating: a global
        # function may change packet data (check_func_call: changes_pkt_data),
        # a static callee's own frame prints its state again anyway.
        if row is None or row.invalidates_packet_pointers:
            self.invalidate_packet_pointers()

    # -- instructions -----------------------------------------------------------

    def flush(self) -> None:
        p = self.pending
        if p is None:
            return
        self.pending = None
        f = self.frame(p.frame)
        self.insns.append(
            InsnState(
                insn=p.insn,
                frame=p.frame,
                path=self.path,
                opcode=p.opcode,
                text=p.text,
                regs=dict(f.regs),
                stack=dict(f.stack),
                printed=p.printed,
                source=p.source,
                func=self.func,
            )
        )

    def on_insn(self, m: re.Match[str], after: str) -> None:
        self.flush()
        self.complete = False
        self.tail.clear()
        self.block = None
        self.return_to = None
        opcode, text = int(m.group(3), 16), m.group(4).rstrip()
        printed_state = _STATE.match(after) if after else None
        state = printed_state.group(2) if printed_state else None
        if printed_state is not None:
            # The state print names the frame only when it is not frame 0.
            self.cur = int(printed_state.group(1) or 0)
        elif m.group(1) is not None:
            self.cur = int(m.group(1))
        if opcode == 0x85:
            self.call_effects(text)
        printed: frozenset[int] = frozenset()
        if state is not None:
            regs, stack = _parse_state(state)
            self.overlay(self.cur, regs, stack)
            printed = frozenset(regs)
        self.pending = _Pending(
            int(m.group(2)), self.cur, opcode, text, printed, self.source, state is not None
        )

    def on_state(self, frame: int, text: str, full: bool) -> None:
        regs, stack = _parse_state(text)
        if full:
            self.replace(frame, regs, stack)
        else:
            self.overlay(frame, regs, stack)
        self.attach(frame, regs)
        self.cur = frame

    def attach(self, frame: int, regs: Mapping[int, RegType]) -> None:
        """Make a state printed after the pending instruction its own."""
        p = self.pending
        if p is not None and p.frame == frame and not p.has_state:
            p.printed, p.has_state = frozenset(regs), True

    def new_path(self) -> None:
        self.flush()
        self.path = self.paths = self.paths + 1

    # -- lines ------------------------------------------------------------------

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if self.in_listing:
            m = _LIVE_LINE.match(line)
            if m:
                self.listing[int(m.group(1))] = int(m.group(2), 16)
                return
            self.in_listing = False
        if self.block is not None and line.startswith(" "):
            m = _BLOCK_LINE.match(line)
            if m:
                self.on_block(int(m.group(1) or 0), m.group(2))
                return
        stripped = line.rstrip()
        if not stripped:
            return
        if len(stripped) > _MAX_LINE:
            self.unknown_line(stripped[:200])
            return
        head, _, after = stripped.partition(_INSN_SEPARATOR)
        m = _INSN_LINE.match(head)
        if m:
            self.on_insn(m, after)
            return
        m = _STATE_LINE.match(stripped)
        if m:
            self.complete = False
            self.block = None
            self.on_state(int(m.group(2) or 0), m.group(3), full=False)
            return
        if stripped.startswith("; "):
            text, at, place = stripped[2:].rpartition(" @ ")
            s = _SOURCE_PLACE.match(place) if at else None
            if s:
                self.source = SourceLine(text, s.group(1), int(s.group(2)))
            else:
                self.source = SourceLine(stripped[2:])
            return
        m = _FROM_LINE.match(stripped)
        if m:
            self.on_from(int(m.group(2)), int(m.group(3) or 0), m.group(4))
            return
        if self.on_structure(stripped):
            return
        if _NOISE.match(stripped):
            return
        self.unknown_line(stripped)

    def unknown_line(self, line: str) -> None:
        """Count a line the parser does not know; keep it if it may be the error."""
        self.unrecognized += 1
        if len(self.tail) < _MAX_ERROR_LINES:
            self.tail.append(line)

    def on_block(self, frame: int, text: str) -> None:
        regs, stack = _parse_state(text)
        if self.block == "callee":
            # check_func_call(): the callee's frame starts with the arguments.
            self.frames[frame + 1 :] = []
            self.replace(frame, regs, stack)
            self.cur = frame
            return
        self.replace(frame, regs, stack)
        self.attach(frame, regs)
        if self.block == "to_caller":
            # prepare_func_exit(): back in the caller, the callee frame is gone.
            self.frames[frame + 1 :] = []
            self.cur = frame

    def on_from(self, target: int, frame: int, rest: str) -> None:
        self.flush()
        self.complete = False
        continuing = self.return_to == target
        self.block = None
        self.return_to = None
        if not continuing:
            self.new_path()
        if rest == "safe":
            self.safe_lines += 1
            return
        regs, stack = _parse_state(rest)
        if not continuing:
            # Only the current frame is printed; what the callers held on this
            # path is not in the log until the callee returns.
            self.frames = [_Frame() for _ in range(frame)]
        self.replace(frame, regs, stack)
        self.frames[frame + 1 :] = []
        self.cur = frame

    def on_structure(self, line: str) -> bool:
        block = _BLOCKS.get(line)
        if block is not None:
            self.block = block
            return True
        m = _SAFE_LINE.match(line)
        if m:
            self.flush()
            self.safe_lines += 1
            return True
        m = _TO_CALLER.match(line)
        if m:
            self.flush()
            self.block = "to_caller"
            self.return_to = int(m.group(1))
            return True
        if line == _LIVE_HEADER:
            self.in_listing = True
            return True
        m = _FUNC_START.match(line)
        if m:
            self.subprogs[int(m.group(1))] = int(m.group(2))
            return True
        m = _VALIDATING.match(line)
        if m:
            # do_check_common() for a global function: a fresh state, frame 0.
            self.new_path()
            self.func = int(m.group(1))
            self.frames = [_Frame()]
            self.cur = 0
            return True
        m = _PROCESSED_FULL.match(line)
        if m:
            self.flush()
            self.processed, self.limit = int(m.group(1)), int(m.group(2))
            self.complete = True
            return True
        m = _TIME.match(line)
        if m:
            self.time_us = int(m.group(1))
            return True
        m = _DEPTH.match(line)
        if m:
            self.depth = tuple(int(d) for d in m.group(1).split("+"))
            return True
        return False

    def result(self) -> ParsedLog:
        self.flush()
        seen = bool(self.insns or self.listing or self.subprogs or self.processed is not None)
        return ParsedLog(
            insns=tuple(self.insns),
            complete=self.complete,
            processed_insns=self.processed,
            insn_limit=self.limit,
            rejected=seen and bool(self.tail),
            error_lines=tuple(self.tail) if seen else (),
            paths=self.paths + 1 if self.insns else 0,
            safe_lines=self.safe_lines,
            listing=dict(self.listing),
            subprogs=dict(self.subprogs),
            verification_time_us=self.time_us,
            stack_depth=self.depth,
            unrecognized=self.unrecognized,
        )


def parse_log(lines: Iterable[str]) -> ParsedLog:
    """Read a verifier log, line by line, in one pass; never raises for bad text.

    ``lines`` is any iterable of lines (an open file works); a whole log as
    one string is split into lines. Text that is not a verifier log gives a
    ``ParsedLog`` with no instructions that is not ``complete``.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    parser = _Parser()
    for line in lines:
        parser.feed(line)
    return parser.result()


def parse_log_strict(lines: Iterable[str]) -> ParsedLog:
    """``parse_log``, raising ``LogError`` for text that is not a verifier log at all.

    A log that is merely truncated is returned (``complete`` False), not
    raised: the caller decides what an incomplete log is worth.
    """
    parsed = parse_log(lines)
    if not parsed.insns and not parsed.complete:
        raise LogError(
            "not a kernel verifier log: no instruction lines and no 'processed N insns' line"
        )
    return parsed


def check_program(parsed: ParsedLog, insn_count: int, opcodes: Sequence[int]) -> str | None:
    """Why ``parsed`` cannot be trusted as the whole log of this program, or None.

    ``insn_count`` is the program's length in 8-byte slots and ``opcodes[i]``
    the opcode byte of slot ``i`` (0 for the second half of an ``ld_imm64``).
    Reasons, in order: the log shows no instruction; it names an instruction
    past the end of the program or prints an opcode the program does not have
    there (a log of another program); it has no ``processed`` trailer
    (truncated); the trailer's count differs from the instruction and
    ``safe`` lines shown (lines are missing, as in the kept tail of a
    rotated log).
    """
    if not parsed.insns and not parsed.listing:
        return "the log shows no instructions"
    seen: set[tuple[int, int]] = set()
    listed = ((i, op, "listing") for i, op in parsed.listing.items())
    explored = ((s.insn, s.opcode, "path") for s in parsed.insns)
    for insn, opcode, where in (*listed, *explored):
        if (insn, opcode) in seen:
            continue
        seen.add((insn, opcode))
        if insn >= insn_count or insn >= len(opcodes):
            return f"the log names instruction {insn} but the program has {insn_count}"
        if opcodes[insn] != opcode:
            return (
                f"instruction {insn} is ({opcode:02x}) in the log's {where} but "
                f"({opcodes[insn]:02x}) in the program: the log is of another program"
            )
    if not parsed.complete:
        return "the log is incomplete: it does not end with 'processed N insns'"
    if parsed.processed_insns is not None and parsed.processed_insns != parsed.visits:
        return (
            f"the verifier processed {parsed.processed_insns} instructions but the log "
            f"shows {parsed.visits}: lines are missing"
        )
    return None
