"""What ``extframe check`` says of programs the kernel refuses, and what it leaves behind.

Real rejections of the running kernel (the sources of the log fixtures in
tests/unit/data/logs/): each must exit 3 with the verifier's own error line
as the reason, the same line in text, JSON and SARIF. A program over the
1,000,000-instruction limit is one of them, although its level-2 log
(about 1 GB) fits no buffer. A check verifies a program once, and leaves
bpffs as it found it even when the object's maps ask libbpf to pin them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.verifier_log import summarize
from extframe.build import build
from extframe.errors import VerifierError
from extframe.kernel.loader import load_object
from tests.conftest import ROOT, cli

pytestmark = pytest.mark.kernel
LOGS = ROOT / "tests" / "unit" / "data" / "logs"
PROGS = ROOT / "tests" / "kernel" / "progs"
REJECTED = [
    *sorted(LOGS.glob("reject_*.c")),
    LOGS / "rejected.c",
    PROGS / "reject_pkt.c",
]


def _verifier_log(src: Path, out: Path) -> str:
    """The log of the kernel's refusal of ``src``, loaded directly."""
    with pytest.raises(VerifierError) as refused:
        load_object(build(src, out / f"{src.stem}.o"))
    return refused.value.log


# Lines the verifier prints that are never its reason (kernel/bpf/verifier.c).
_TRACE = re.compile(
    r"^(?:mark_precise: |(?:cur|old) state: |verification time |processed \d+ insns|"
    r"stack depth |\(\d+\) (?:frame|live)|\d+: (?:R\d|safe|frame)|; |from \d+ to )"
)


def _checked(*args: str, trace: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``extframe check ARGS`` under strace: its result, and its BPF_PROG_LOAD calls."""
    r = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=bpf", "-e", "signal=none",
         "-s", "0", sys.executable, "-m", "extframe", "check", *args],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600,
    )  # fmt: skip
    loads = [ln for ln in trace.read_text().splitlines() if "bpf(BPF_PROG_LOAD" in ln]
    return r, loads


def _loads_of(loads: list[str], program: str) -> int:
    # BPF_OBJ_NAME_LEN is 16: the kernel sees at most 15 characters of the name;
    # libbpf's feature probes load programs of other names.
    return sum(f'prog_name="{program[:15]}"' in ln for ln in loads)


@pytest.mark.parametrize("src", REJECTED, ids=lambda p: p.stem)
def test_a_rejection_is_exit_3_with_the_verifiers_line_in_every_format(
    src: Path, tmp_path: Path
) -> None:
    log = _verifier_log(src, tmp_path)
    summary = summarize(log)
    lines = log.splitlines()
    # The reason is the verifier's error line (with the next one when the
    # first is short), never a trace line that happens to come last.
    parts = [summary.reason] if summary.reason in lines else summary.reason.split(": ", 1)
    for part in parts:
        assert part in lines and not _TRACE.match(part), summary.reason
    where = f"{summary.source_file}:{summary.source_line}"
    assert summary.source_file == src.name
    if src.stem == "reject_too_large":
        assert re.fullmatch(r"BPF program is too large\. Processed \d+ insn", summary.reason)

    text = cli("check", str(src))
    assert text.returncode == 3, text.stderr
    assert f"{summary.reason} ({where})" in text.stdout
    assert text.stderr.strip().splitlines()[-1].endswith(f"{summary.reason} ({where})")

    as_json = cli("check", "--json", str(src))
    assert as_json.returncode == 3
    (program,) = json.loads(as_json.stdout)
    assert program["verdict"] == "unknown"
    assert f"the verifier rejected the program: {summary.reason} ({where})" in program["reasons"]
    assert program["kernel"]["log_complete"] is (src.stem != "reject_too_large")

    sarif, loads = _checked("--sarif", str(src), trace=tmp_path / "strace.txt")
    assert sarif.returncode == 3, sarif.stderr
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    (result,) = [r for r in results if r["ruleId"] == "verifier-rejected"]
    assert result["message"]["text"].endswith(f" at {where}: {summary.reason}")
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == summary.source_line
    # One verification; over the instruction limit, a second at level 1
    # (the level-2 log, about 1 GB, fits no buffer).
    assert _loads_of(loads, src.stem) == (2 if src.stem == "reject_too_large" else 1)


def test_one_check_verifies_a_program_with_a_multi_megabyte_log_once(tmp_path: Path) -> None:
    src = PROGS / "big_log.c"
    with load_object(build(src, tmp_path / "big_log.o")) as obj:
        prog = obj.program()
        assert prog.log_complete and len(prog.log) > 4 << 20, len(prog.log)
    assert shutil.which("strace"), "strace is installed by scripts/setup.sh"
    r, loads = _checked(str(src), trace=tmp_path / "strace.txt")
    assert r.returncode == 0, r.stderr
    assert "big_log (tc): read-only" in r.stdout
    assert _loads_of(loads, "big_log") == 1


def _bpffs() -> set[tuple[str, int]]:
    """Every path under /sys/fs/bpf with its inode, but other tests' private folders.

    Tests (and a developer's concurrent runs) make and remove folders named
    extframe_* there; libbpf pins by name directly under the mount point.
    """
    found = set()
    for top, dirs, files in os.walk("/sys/fs/bpf"):
        if top == "/sys/fs/bpf":
            dirs[:] = [d for d in dirs if not d.startswith("extframe_")]
        for name in dirs + files:
            path = os.path.join(top, name)
            with contextlib.suppress(FileNotFoundError):
                found.add((path, os.lstat(path).st_ino))
    return found


def test_check_leaves_bpffs_as_it_was_with_pin_by_name_maps() -> None:
    """LIBBPF_PIN_BY_NAME maps are not pinned; a second object of the same map name loads."""
    before = _bpffs()
    for name in ("pin_by_name", "pin_by_name_other"):
        r = cli("check", str(PROGS / f"{name}.c"))
        assert r.returncode == 0, r.stderr
        assert "read-only" in r.stdout
        assert _bpffs() == before, name
    assert not Path("/sys/fs/bpf/extframe_pinned_counter").exists()


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Paths are bytes to Linux: such a name is checked and shown as it is, no traceback."""
    odd = tmp_path / os.fsdecode(b"ttl\xff.c")
    shutil.copy(PROGS / "effects" / "store_fixed.c", odd)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    for args in (["check"], ["check", "--json"], ["build", "-o", str(tmp_path / "x.o")]):
        r = subprocess.run(
            [sys.executable, "-m", "extframe", *args, str(odd)],
            capture_output=True, cwd=ROOT, env=env, check=False, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert b"Traceback" not in r.stderr
        if "--json" in args:
            (program,) = json.loads(r.stdout)
            assert program["verdict"] == "writes"
            assert program["object"] == str(odd)
        elif args == ["check"]:
            assert os.fsencode(odd) in r.stdout
    raw = tmp_path / os.fsdecode(b"raw-\xff.bin")  # '-' is not in a kernel name either
    shutil.copy(LOGS / "fixed_write.insns", raw)
    r = subprocess.run(
        [sys.executable, "-m", "extframe", "check", "--raw", "--type", "tc", str(raw)],
        capture_output=True, cwd=ROOT, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr
    assert b": writes;" in r.stdout
