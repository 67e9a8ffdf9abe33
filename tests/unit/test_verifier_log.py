"""The short form of verifier logs, on logs captured from kernel 6.18."""

from __future__ import annotations

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
