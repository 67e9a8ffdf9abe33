"""Files extframe writes as root are never written through a link another user planted.

The temporary files of an atomic write used to have predictable names
(``.NAME.PID.tmp``): a symbolic link planted under that name would have had
root write the lock file through it (clang, for builds, happens to write
its own temporary file and rename it). Each test plants exactly that link,
with this process's pid, and checks its target stays untouched.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from extframe.build import build
from extframe.lockfile import Lock
from extframe.owned import replace_file
from tests.conftest import ACTIONS


def _plant(folder: Path, name: str, tmp_path: Path) -> Path:
    """A victim file and a link to it at the old temporary name of ``folder/name``."""
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (folder / f".{name}.{os.getpid()}.tmp").symlink_to(victim)
    return victim


def test_the_lock_file_is_not_written_through_a_planted_link(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    victim = _plant(folder, "extframe.lock", tmp_path)
    lock = Lock(folder / "extframe.lock")
    assert lock.write() is True
    assert victim.read_text() == "untouched\n"
    assert (folder / "extframe.lock").read_text() == lock.text()
    assert sorted(p.name for p in folder.iterdir()) == [
        f".extframe.lock.{os.getpid()}.tmp",
        "extframe.lock",
    ]


def test_a_build_is_not_written_through_a_planted_link(tmp_path: Path) -> None:
    victim = _plant(tmp_path, "out.o", tmp_path)
    out = build(ACTIONS / "port_counter.c", tmp_path / "out.o")
    assert victim.read_text() == "untouched\n"
    assert out.read_bytes()[:4] == b"\x7fELF"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_replace_file_replaces_a_link_at_the_path_and_sets_the_mode(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    path = tmp_path / "record.json"
    path.symlink_to(victim)
    replace_file(path, b"{}\n", mode=0o600)
    assert victim.read_text() == "untouched\n"
    assert not path.is_symlink() and path.read_bytes() == b"{}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json", "victim"]
