"""The raw BPF_PROG_LOAD path: log_true_size and BPF_LOG_FIXED, on the real kernel."""

from __future__ import annotations

import errno

import pytest

from analyzer.verifier_log import is_complete
from extframe.kernel.bpf_syscall import RawLoadOptions, prog_load, prog_load_whole_log

pytestmark = pytest.mark.kernel

# r0 = 0 twenty times, then exit: a log of a known, modest size.
MOVS = bytes.fromhex("b700000000000000" * 20 + "9500000000000000")
# exit with r0 never written: the verifier rejects it.
NO_R0 = bytes.fromhex("9500000000000000")


def test_log_true_size_is_what_the_whole_log_needs() -> None:
    whole = prog_load(MOVS)
    whole.close()
    assert whole.fd is not None and whole.log_complete
    assert whole.log_true_size == len(whole.log) + 1  # the size counts the NUL


def test_small_rotating_log_keeps_the_tail_and_is_detected() -> None:
    r = prog_load(MOVS, RawLoadOptions(log_size=64))
    assert r.fd is None and r.errno == errno.ENOSPC
    assert r.log_truncated and not r.log_complete
    assert r.log_true_size > 64
    assert not r.log.startswith("func#0")  # the head is gone


def test_fixed_log_keeps_the_head() -> None:
    r = prog_load(MOVS, RawLoadOptions(log_size=64, fixed=True))
    assert r.errno == errno.ENOSPC and r.log.startswith("func#0")
    assert not is_complete(r.log)


def test_one_retry_with_the_true_size_gives_the_whole_log() -> None:
    reference = prog_load(MOVS)
    reference.close()
    r = prog_load_whole_log(MOVS, RawLoadOptions(log_size=64))
    r.close()
    assert r.fd is not None and r.log_complete
    assert r.log_size == reference.log_true_size
    strip = [ln for ln in r.log.splitlines() if not ln.startswith("verification time")]
    ref = [ln for ln in reference.log.splitlines() if not ln.startswith("verification time")]
    assert strip == ref


def test_rejection_comes_back_with_its_log() -> None:
    r = prog_load_whole_log(NO_R0)
    assert r.fd is None and r.errno == errno.EACCES
    assert "R0 !read_ok" in r.log and r.log_complete


@pytest.mark.parametrize("bad", [b"", b"\x95" * 7])
def test_malformed_bytecode_is_refused_before_the_kernel(bad: bytes) -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        prog_load(bad)
