"""A pid file is a claim, not a proof: extframe signals only the switch's own daemons.

Pid files in a run directory can name any process: one left from before a
reboot, a reused pid, a file another tool wrote. ``Switch.stop`` and
``Switch.running`` believe one only when the process runs the daemon's
executable and its command line names the run directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from extframe.ovs.switch import Switch

pytestmark = [pytest.mark.ovs]


@pytest.fixture
def bystanders(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Unrelated processes: one names the run directory, two even run executables
    named like the daemons, one of those with the run directory's arguments."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fakes = tmp_path / "bin"
    fakes.mkdir()
    nap = ["-c", "import time; time.sleep(60)"]
    for daemon in ("ovs-vswitchd", "ovsdb-server"):
        shutil.copy(Path(sys.executable).resolve(), fakes / daemon)  # a Python by that name
    procs = [
        subprocess.Popen(["sleep", "60"]),
        subprocess.Popen([sys.executable, *nap, f"unix:{run_dir}/db.sock"]),
        subprocess.Popen([str(fakes / "ovs-vswitchd"), *nap, f"unix:{run_dir}/db.sock"]),
        subprocess.Popen([str(fakes / "ovsdb-server"), *nap, f"--remote=punix:{run_dir}/db.sock"]),
    ]
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def test_pid_files_naming_other_processes_are_not_believed(
    tmp_path: Path, bystanders: list[subprocess.Popen[bytes]]
) -> None:
    run_dir = tmp_path / "run"
    sw = Switch(run_dir)
    for first, second in zip(bystanders[::2], bystanders[1::2], strict=True):
        for daemon, proc in (("ovs-vswitchd", first), ("ovsdb-server", second)):
            (run_dir / f"{daemon}.pid").write_text(f"{proc.pid}\n")
        assert sw.pid("ovs-vswitchd") is None and sw.pid("ovsdb-server") is None
        assert not sw.running()
        assert sw.stop() is False
    assert all(p.poll() is None for p in bystanders), "a bystander was signalled"


def test_the_real_daemons_are_found_and_stopped(tmp_path: Path) -> None:
    from tests.ovs.conftest import ovs_build

    build = ovs_build()
    assert build is not None, "the patched OVS is built by make setup"
    sw = Switch(tmp_path / "run", build)
    sw.start("--disable-system")
    try:
        pids = [sw.pid("ovs-vswitchd"), sw.pid("ovsdb-server")]
        assert all(pids) and sw.running()
    finally:
        assert sw.stop() is True
    assert not sw.running()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
