"""``python -m bench scaling``'s generated programs load, are proved read-only, and plot.

No timing is asserted (bench/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scaling
from bench.common import RunOptions

pytestmark = pytest.mark.kernel


def test_a_small_generated_program_goes_through_verifier_and_analysis(tmp_path: Path) -> None:
    (row,) = scaling.measure([100, 1000], rounds=1, folder=tmp_path)[:1]
    assert row.verdict == "read_only"
    assert 80 <= row.insns <= 130  # about the size asked for
    assert min(row.verify_us, row.analysis_us, row.static_us) > 0


def test_main_writes_the_table_and_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTFRAME_BENCH_RESULTS", str(tmp_path))
    assert scaling.main(RunOptions(rounds=1, max_insns=1000)) == 0
    table = (tmp_path / "scaling.md").read_text()
    assert "| generated 100 |" in table and "| generated 1000 |" in table
    assert "growth from " in table and "Measured on: " in table
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
