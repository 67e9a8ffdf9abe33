"""Reading kernel verifier logs: completeness and the short form of a rejection.

Log lines this module relies on (kernel 6.x, log level 1 or 2):

- ``N: (73) *(u8 *)(r1 +15) = r2  ; R1=pkt(r=34)`` an instruction line
- ``; int act(struct __sk_buff *skb) @ dec_ttl.c:12`` a source line (BTF)
- ``processed N insns (limit 1000000) max_states_per_insn ...`` the last line
  of every log the kernel wrote to the end, accepted or rejected
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INSN = re.compile(r"^(?:frame\d+: )?(\d+): \([0-9a-f]{2}\)")
_SOURCE = re.compile(r"^; (?P<text>.*?)(?: @ (?P<file>[^:@]+):(?P<line>\d+))?$")
_PROCESSED = re.compile(r"^processed (\d+) insns \(limit (\d+)\)")
# Statistics the kernel prints after the verdict (log level 4) or around it.
_TRAILER = re.compile(
    r"^(verification time \d+ usec|stack depth [\d+]+|processed \d+ insns|"
    r"(?:mark_read|max_states_per_insn|peak_states|total_states)\b)"
)


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


def summarize(log: str) -> LogSummary:
    """The reason, instruction and C source line of a (rejected) log."""
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
    tail = [ln for ln in lines[last_insn_at + 1 :] if not _TRAILER.match(ln)]
    # Register-state dumps ("R1=ctx() R10=fp0") and source lines are context,
    # not the reason.
    reasons = [ln for ln in tail if not ln.startswith(";") and not re.match(r"^\d+: R\d", ln)]
    if not reasons:
        reason = lines[-1] if lines else "empty verifier log"
    elif len(reasons) >= 2 and len(reasons[0]) < 40:
        reason = f"{reasons[0]}: {reasons[1]}"
    else:
        reason = reasons[0]
    hint = next((h.advice for h in HINTS if h.pattern.search(" ".join(tail) or reason)), None)
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
