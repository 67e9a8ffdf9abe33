"""Pinning in bpffs: all or nothing, clean removal, clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from extframe.build import build
from extframe.errors import PinError
from extframe.kernel import bpffs, libbpf
from extframe.kernel.loader import load_object

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"


@pytest.fixture(scope="module")
def two_progs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(PROGS / "two_progs.c", tmp_path_factory.mktemp("o") / "two_progs.o")


def test_pin_layout_and_unpin(two_progs: Path, bpffs_root: Path) -> None:
    with load_object(two_progs) as obj:
        pinned = bpffs.pin(obj, "two")
    # The object is closed: only the pins keep the programs and map alive.
    assert sorted(p.name for p in (bpffs_root / "two" / "prog").iterdir()) == [
        "count_first",
        "mark_second",
    ]
    assert (bpffs_root / "two" / "map" / "shared_cfg").exists()
    fd = libbpf.lib().bpf_obj_get(str(pinned.programs["count_first"]).encode())
    assert fd >= 0, "the pinned program must be reachable after the object is closed"
    os.close(fd)
    assert bpffs.pinned_names(bpffs_root) == ["two"]
    removed = bpffs.unpin("two", bpffs_root)
    assert len(removed) == 3
    assert not (bpffs_root / "two").exists()
    assert bpffs.pinned_names(bpffs_root) == []


def test_internal_map_names_lose_their_dot(tmp_path: Path, bpffs_root: Path) -> None:
    src = tmp_path / "rodata.c"
    src.write_text(
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
        "volatile const int limit = 5;\n"
        'SEC("tc") int rodata(struct __sk_buff *s) { return s->len > limit ? 2 : 0; }\n'
        'char LICENSE[] SEC("license") = "GPL";\n'
    )
    with load_object(build(src)) as obj:
        assert any("." in m.name for m in obj.maps)
        pinned = bpffs.pin(obj, "rodata")
    assert all("." not in p.name for p in pinned.maps.values())
    bpffs.unpin("rodata", bpffs_root)


def test_existing_name_is_refused_and_untouched(two_progs: Path, bpffs_root: Path) -> None:
    with load_object(two_progs) as obj:
        bpffs.pin(obj, "dup")
        before = sorted(bpffs_root.rglob("*"))
        with pytest.raises(PinError, match="already pinned"):
            bpffs.pin(obj, "dup")
    assert sorted(bpffs_root.rglob("*")) == before
    bpffs.unpin("dup", bpffs_root)


def test_failed_pin_rolls_back(
    two_progs: Path, bpffs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bpffs._pin_fd
    calls = []

    def fail_third(fd: int, path: Path) -> Path:
        calls.append(path)
        if len(calls) == 3:
            raise PinError(f"cannot pin {path}: injected failure")
        return real(fd, path)

    monkeypatch.setattr(bpffs, "_pin_fd", fail_third)
    with load_object(two_progs) as obj, pytest.raises(PinError, match="injected"):
        bpffs.pin(obj, "half")
    assert len(calls) == 3
    assert not (bpffs_root / "half").exists(), "a failed pin must leave nothing behind"


@pytest.mark.parametrize("name", ["has.dot", "1digit", "", "x" * 33, "sp ace", "../up"])
def test_bad_names_are_refused(name: str, bpffs_root: Path) -> None:
    with pytest.raises(PinError, match="invalid name"):
        bpffs.check_name(name)


def test_missing_bpffs_is_reported(
    two_progs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTFRAME_BPFFS", str(tmp_path / "not_bpffs"))
    with load_object(two_progs) as obj, pytest.raises(PinError, match="bpffs is not mounted"):
        bpffs.pin(obj, "nowhere")
    assert not (tmp_path / "not_bpffs").exists()


def test_unpin_unknown_name(bpffs_root: Path) -> None:
    with pytest.raises(PinError, match="not loaded"):
        bpffs.unpin("ghost", bpffs_root)


def test_a_pinned_map_is_opened_as_the_kernel_describes_it(
    two_progs: Path, bpffs_root: Path
) -> None:
    with load_object(two_progs) as obj:
        loaded = next(m for m in obj.maps if m.name == "shared_cfg")
        expected = (loaded.map_type, loaded.key_size, loaded.value_size, loaded.max_entries)
        pinned = bpffs.pin(obj, "two")
    m = bpffs.open_pinned_map(pinned.maps["shared_cfg"])
    try:
        assert (m.map_type, m.key_size, m.value_size, m.max_entries) == expected
        key, value = bytes(m.key_size), bytes(range(m.value_size))
        m.update(key, value)
        assert m.lookup(key) == value
    finally:
        os.close(m.fd)
    with pytest.raises(PinError, match="is not a pinned map"):
        bpffs.open_pinned_map(pinned.programs["count_first"])
    bpffs.unpin("two", bpffs_root)
