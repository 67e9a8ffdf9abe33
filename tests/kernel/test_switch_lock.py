"""What another user can do to a switch's registry lock and records: nothing.

extframe keeps RUNDIR/extframe (its lock and one record per action) as
root's own with mode 0700, and a lock held by a stuck or hostile process
times out with a message that names it. A real unprivileged user is created
for the test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from extframe.errors import OvsError
from extframe.ovs.switch import Switch
from tests.conftest import User

pytestmark = pytest.mark.kernel  # needs root: a real user is created


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A folder of root's that other users may enter (pytest's tmp_path is 0700)."""
    where = Path(tempfile.mkdtemp(prefix="extframe_lock_"))
    os.chmod(where, 0o755)
    yield where
    shutil.rmtree(where, ignore_errors=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_lock_and_records_are_root_only(public_tmp: Path, intruder: User) -> None:
    run_dir = public_tmp / "run"
    run_dir.mkdir(mode=0o755)  # as a switch's run directory usually is
    assert intruder.run("ls", str(run_dir)).returncode == 0
    sw = Switch(run_dir)
    with sw.lock():
        pass
    assert _mode(sw.state_dir) == 0o700 and _mode(sw.state_dir / "lock") == 0o600
    script = f"import fcntl; fcntl.flock(open({str(sw.state_dir / 'lock')!r}), fcntl.LOCK_EX)"
    r = intruder.run(sys.executable, "-c", script)
    assert r.returncode != 0 and "PermissionError" in r.stderr, r.stderr
    assert intruder.run("ls", str(sw.state_dir)).returncode != 0


def test_an_earlier_open_layout_is_tightened_with_a_new_lock(tmp_path: Path) -> None:
    sw = Switch(tmp_path / "run")
    sw.state_dir.mkdir(parents=True, mode=0o755)
    os.chmod(sw.state_dir, 0o755)
    old = sw.state_dir / "lock"
    old.write_text("")
    os.chmod(old, 0o644)
    # Anyone could open it then, and hold a flock on it for ever.
    with open(old) as hostile:
        fcntl.flock(hostile, fcntl.LOCK_EX)
        with sw.lock(timeout_s=1):
            pass
    assert _mode(sw.state_dir) == 0o700 and _mode(sw.state_dir / "lock") == 0o600


def test_a_state_folder_another_user_made_is_refused(public_tmp: Path, intruder: User) -> None:
    run_dir = public_tmp / "run"
    run_dir.mkdir()
    (run_dir / "extframe").mkdir()
    os.chown(run_dir / "extframe", intruder.uid, intruder.gid)  # as if the user made it
    with pytest.raises(OvsError, match="belongs to uid"), Switch(run_dir).lock():
        pass


@pytest.mark.parametrize("whose", ["shared", "the other user's"])
def test_a_run_directory_another_user_may_change_is_refused(
    public_tmp: Path, intruder: User, whose: str
) -> None:
    """Root writes the database, sockets and records there: never in someone else's folder."""
    os.chmod(public_tmp, 0o1777)
    run_dir = public_tmp / "run"
    if whose == "shared":
        run_dir.mkdir()
        os.chmod(run_dir, 0o1777)
        words = "writable by group or others"
    else:
        assert intruder.run("mkdir", str(run_dir)).returncode == 0
        words = f"belongs to uid {intruder.uid}"
    with pytest.raises(OvsError, match=words), Switch(run_dir).lock():
        pass
    assert not (run_dir / "extframe").exists()


def test_a_held_lock_times_out_naming_its_holder(tmp_path: Path) -> None:
    sw = Switch(tmp_path / "run")
    sw.own_state_dir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\n"
         f"f = open({str(sw.state_dir / 'lock')!r}, 'a')\n"
         "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OvsError) as refused, sw.lock(timeout_s=0.5):
            pass
        assert f"held by pid {holder.pid}" in refused.value.message
    finally:
        holder.kill()
        holder.wait()
    with sw.lock(timeout_s=5):  # free again once its holder is gone
        pass
