"""bpffs is mode 1777: another user must not be able to prepare extframe's folders.

A real unprivileged user (``intruder``) plants what an attacker would in a
folder that stands for the mount point (root's, sticky, world-writable, as
bpffs is); root's extframe must refuse to pin there in one line, exit 2,
and pin nothing. Where nobody interfered, extframe makes its folders itself,
root's own with mode 0700.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from extframe.build import build
from extframe.errors import PinError
from extframe.kernel import bpffs
from extframe.kernel.loader import load_object
from tests.conftest import ACTIONS, User, cli

pytestmark = pytest.mark.kernel


@pytest.fixture
def mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder in the real bpffs that acts as its mount point: root's, mode 1777."""
    where = Path("/sys/fs/bpf") / f"extframe_owner_{os.getpid()}_{tmp_path.name}"
    where.mkdir()
    os.chmod(where, 0o1777)
    monkeypatch.setenv("EXTFRAME_BPFFS", str(where))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def _load(name: str) -> tuple[int, list[str]]:
    r = cli("load", str(ACTIONS / "port_counter.c"), "--name", name)
    return r.returncode, r.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("plant", "words"),
    [
        (("mkdir", "{target}"), "belongs to uid"),
        (("ln", "-s", "/tmp", "{target}"), "is a symbolic link"),
        (("mkdir", "-p", "{target}/pc/prog"), "belongs to uid"),
    ],
    ids=["folder", "symlink", "nested"],
)
def test_a_folder_another_user_planted_is_refused(
    mount: Path, intruder: User, plant: tuple[str, ...], words: str
) -> None:
    target = mount / "extframe"
    r = intruder.run(*(a.format(target=target) for a in plant))
    assert r.returncode == 0, r.stderr
    rc, err = _load("pc")
    assert rc == 2 and len(err) == 1 and err[0].startswith("extframe: error:"), err
    assert words in err[0] and str(target) in err[0]
    # Nothing was pinned, in the planted folder or behind the link.
    pinned = [p for p in mount.rglob("*") if not p.is_dir() and not p.is_symlink()]
    assert pinned == []
    assert not any(Path("/tmp").glob("pc/prog/*"))


def test_a_folder_others_may_write_is_refused(mount: Path) -> None:
    (mount / "extframe").mkdir()
    os.chmod(mount / "extframe", 0o775)
    rc, err = _load("pc")
    assert rc == 2 and "writable by group or others (mode 0775)" in err[0], err


def test_extframe_makes_its_folders_root_only(mount: Path, intruder: User) -> None:
    rc, err = _load("pc")
    assert rc == 0, err
    for folder in ("extframe", "extframe/pc", "extframe/pc/prog", "extframe/pc/map"):
        st = os.lstat(mount / folder)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700), folder
    # ... so the other user can neither list nor rename root's pins.
    assert intruder.run("ls", str(mount / "extframe")).returncode != 0
    r = intruder.run("mv", str(mount / "extframe" / "pc"), str(mount / "stolen"))
    assert r.returncode != 0 and (mount / "extframe" / "pc" / "prog").is_dir()
    assert cli("unload", "pc").returncode == 0


def test_a_switchs_pin_folder_is_checked_the_same_way(mount: Path, intruder: User) -> None:
    """extframe.ovs pins under bpffs/extframe_ovs/<switch>/ through bpffs.pin."""
    assert intruder.run("mkdir", str(mount / "extframe_ovs")).returncode == 0
    obj_path = build(ACTIONS / "port_counter.c")
    with load_object(obj_path) as obj, pytest.raises(PinError, match="belongs to uid"):
        bpffs.pin(obj, "pc", root=mount / "extframe_ovs" / "sandbox")
    assert list((mount / "extframe_ovs").iterdir()) == []
