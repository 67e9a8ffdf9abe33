"""Test set-up shared by every suite.

Tests marked ``kernel`` need the real bpf() syscall, tests marked ``ovs`` the
patched ovs-vswitchd. Where those are missing they are skipped, except in CI
(``CI=true``), where such a skip is turned into a failure: a green CI run
proves that the kernel and OVS tests ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.effects import ProgramEffects

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NEEDS_PRIVILEGE = ("kernel", "ovs")


def _kernel_missing() -> str | None:
    from extframe.libbpf import kernel_can_load

    return kernel_can_load()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if any(item.get_closest_marker("kernel") for item in items):
        reason = _kernel_missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no kernel BPF here: {reason}")
    for item in items:
        if item.get_closest_marker("kernel"):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in NEEDS_PRIVILEGE):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped in CI (CI=true), where it must run: " + str(
            report.longrepr
        )


@pytest.fixture
def bpffs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private folder inside the real bpffs; checked empty and removed after."""
    mount = Path("/sys/fs/bpf") / f"extframe_test_{os.getpid()}_{tmp_path.name}"
    mount.mkdir()
    monkeypatch.setenv("EXTFRAME_BPFFS", str(mount))
    yield mount / "extframe"
    shutil.rmtree(mount, ignore_errors=True)


@pytest.fixture(scope="session")
def action_effects() -> dict[str, ProgramEffects]:
    """``extframe check`` of every bundled action, by name: done once for all tests."""
    from extframe.check import check_file

    out: dict[str, ProgramEffects] = {}
    for src in sorted(ACTIONS.glob("*.c")):
        checked = check_file(src)
        assert checked.rejected is None, src
        (analysis,) = checked.analyses
        out[src.stem] = analysis.effects
    return out


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objects")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``extframe`` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "extframe", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )
