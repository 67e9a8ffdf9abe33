"""``python -m bench analysis`` measures what it says, on one small program.

No timing is asserted (bench/README.md): only that every figure was taken
from this run and that the table and its summary line come out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import analysis
from extframe.build import build
from extframe.errors import VerifierError
from tests.conftest import ROOT

pytestmark = pytest.mark.kernel


def test_one_program_gives_one_row_and_a_table(tmp_path: Path) -> None:
    obj = build(analysis.EFFECTS / "store_fixed.c", tmp_path / "store_fixed.o")
    rows = analysis.measure(obj, "effects/store_fixed", rounds=2)
    assert [r.name for r in rows] == ["effects/store_fixed"]
    row = rows[0]
    assert row.insns > 0 and row.log_bytes > 0
    assert min(row.verify_us, row.analysis_us, row.static_us) > 0
    assert row.ratio == row.analysis_us / row.verify_us
    lines = analysis.table(rows, rounds=2)
    assert lines[0].endswith("median of 2 alternating rounds")
    assert lines[2].startswith("| program | insns | log KiB | verify_us")
    assert lines[4].startswith("| effects/store_fixed | ")
    assert lines[-1].startswith("analysis / verify, geometric mean over 1 programs: ")


def test_a_crafted_program_the_kernel_refuses_is_named_and_left_out(tmp_path: Path) -> None:
    refused_src = ROOT / "tests" / "kernel" / "progs" / "reject_pkt.c"
    sources = [
        ("effects/reject_pkt", refused_src),
        ("effects/store_fixed", analysis.EFFECTS / "store_fixed.c"),
    ]
    rows, refused = analysis.measure_all(sources, 1, tmp_path)
    assert [r.name for r in rows] == ["effects/store_fixed"]
    assert len(refused) == 1
    assert refused[0].startswith("effects/reject_pkt: refused by this kernel (")
    assert refused[0].endswith("); not measured")


def test_an_action_the_kernel_refuses_stops_the_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused_src = ROOT / "tests" / "kernel" / "progs" / "reject_pkt.c"
    monkeypatch.setattr(analysis, "ACTIONS", refused_src.parent)  # as if it were an action
    with pytest.raises(VerifierError):
        analysis.measure_all([("actions/reject_pkt", refused_src)], 1, tmp_path)


def test_the_dispatcher_knows_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "no_such_bench"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert out.returncode == 2
    known = out.stderr.split("known: ")[1].strip().split(", ")
    assert {"testrun", "analysis", "scaling", "datapath"} <= set(known)
