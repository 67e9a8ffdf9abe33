"""The short form of verifier logs, on logs captured from kernel 6.18."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.verifier_log import is_complete, processed_insns, summarize

DATA = Path(__file__).parent / "data"
REJECT = (DATA / "reject_pkt.log").read_text()
ACCEPT = (DATA / "two_progs_ok.log").read_text()


def test_rejection_summary() -> None:
    s = summarize(REJECT)
    assert s.reason.startswith("invalid access to packet, off=12 size=1")
    assert (s.source_file, s.source_line) == ("reject_pkt.c", 10)
    assert s.source_text == "if (data[12] == 8)"
    assert s.insn == 1
    assert s.hint and "data_end" in s.hint
    assert s.complete
    assert s.omitted_lines > 5


def test_complete_logs_end_with_processed() -> None:
    assert is_complete(ACCEPT) and is_complete(REJECT)
    assert processed_insns(REJECT) == 2


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_logs_are_not_complete(cut: float) -> None:
    text = ACCEPT[: int(len(ACCEPT) * cut)]
    assert not is_complete(text)
    assert not summarize(text).complete


def test_rotated_log_tail_is_still_complete() -> None:
    # The kernel keeps the tail of a log that overflows in rotating mode; a
    # tail holding "processed" looks complete, which is why the loader relies
    # on ENOSPC, not on this check alone.
    assert is_complete(ACCEPT[-200:])


@pytest.mark.parametrize(
    ("tail", "advice"),
    [
        ("R1 invalid mem access 'map_value_or_null'", "NULL"),
        ("unknown func bpf_redirect_peer#155", "not available"),
        ("back-edge from insn 12 to 4", "bound the loop"),
        ("R0 !read_ok", "must return"),
        ("invalid read from stack R10 off=-8 size=8", "initialise"),
    ],
)
def test_known_failures_get_advice(tail: str, advice: str) -> None:
    log = (
        "0: R1=ctx() R10=fp0\n; x @ a.c:3\n0: (b7) r0 = 0\n"
        f"{tail}\nprocessed 1 insns (limit 1000000)\n"
    )
    s = summarize(log)
    assert s.reason == tail
    assert s.hint is not None and advice in s.hint
    assert s.source_line == 3


def test_garbage_and_empty() -> None:
    assert summarize("").reason == "empty verifier log"
    s = summarize("not a log at all\nreally")
    assert not s.complete and s.insn is None and s.source_line is None


def _fixture(name: str) -> str:
    return (DATA / name).read_text()


# Real rejections captured on Linux 6.18.44 (data/logs/capture.py): the
# verifier's own error line, and the C line of the last instruction it saw.
REJECTIONS = [
    ("logs/dynptr_slice_write.log", "bpf_dynptr_slice_rdwr() is not allowed", 27),
    ("logs/reject_too_large.log", "BPF program is too large. Processed 1000001 insn", 15),
    ("logs/reject_infinite_loop.log", "infinite loop detected at insn 4", 13),
    ("reject_pkt.log", "invalid access to packet, off=12 size=1, R1(id=0,off=12,r=0)", 10),
    (
        "logs/reject_unreleased_ref.log",
        "Unreleased reference id=2 alloc_insn=12: "
        "BPF_EXIT instruction in main prog would lead to reference leak",
        18,
    ),
    ("logs/reject_map_bounds.log", "invalid access to map value, value_size=16 off=63 size=1", 30),
    ("logs/rejected.log", "invalid access to packet, off=22 size=1, R2(id=0,off=22,r=14)", 22),
]


@pytest.mark.parametrize(("name", "reason", "line"), REJECTIONS, ids=lambda x: str(x))
def test_the_reason_is_the_verifiers_error_line(name: str, reason: str, line: int) -> None:
    log = _fixture(name)
    s = summarize(log)
    assert s.reason == reason
    assert (s.source_file, s.source_line) == (Path(name).stem + ".c", line)
    assert s.complete
    # Each part of the reason is a whole line of the log, never a trace line.
    for part in reason.split(": ", 1) if len(reason.split(": ")[0]) < 40 else [reason]:
        assert part in log.splitlines()
    assert not s.reason.startswith(("mark_precise", "cur state", "old state", "verification"))


def test_precision_traces_after_the_last_instruction_are_not_the_reason() -> None:
    """The verifier backtracks (mark_precise) between the instruction and its error."""
    lines = _fixture("logs/dynptr_slice_write.log").splitlines()
    error_at = lines.index(summarize("\n".join(lines)).reason.split(": ")[0])
    last_insn = max(i for i, ln in enumerate(lines[:error_at]) if re.match(r"^\d+: \(", ln))
    assert any(ln.startswith("mark_precise:") for ln in lines[last_insn:error_at])


def test_the_states_of_an_infinite_loop_are_context() -> None:
    log = _fixture("logs/reject_infinite_loop.log")
    assert "cur state: " in log and "old state: " in log
    s = summarize(log)
    assert s.reason == "infinite loop detected at insn 4"
    assert s.hint is not None and "bound the loop" in s.hint


def test_liveness_and_safe_lines_after_the_last_instruction_are_not_the_reason() -> None:
    """6.18 prints liveness updates after an exit, and ``from N to M: safe``."""
    log = _fixture("logs/map_lookup.log")
    assert "(0) live stack update done" in log and ": safe" in log
    error = "combined stack size of 2 calls is 544. Too large"
    cut = log.index("verification time")
    assert summarize(log[:cut] + error + "\n" + log[cut:]).reason == error
