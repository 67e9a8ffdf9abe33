"""A folder on the command line stands for the actions in it (check, lock, vectors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extframe.errors import ExtframeError
from extframe.inputs import expand_actions


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


def test_a_folder_is_its_sources_and_the_objects_without_one(tmp_path: Path) -> None:
    _touch(tmp_path / "a", "b.c", "a.c", "a.o", "z.o", "notes.md", "a.vectors.toml")
    (tmp_path / "a" / "include").mkdir()
    _touch(tmp_path / "a" / "include", "deep.c")
    got = expand_actions([str(tmp_path / "a")])
    assert [p.name for p in got] == ["a.c", "b.c", "z.o"]


def test_files_stay_as_named_and_each_action_comes_once(tmp_path: Path) -> None:
    _touch(tmp_path / "a", "b.c", "a.c")
    first = tmp_path / "a" / "b.c"
    got = expand_actions([str(first), str(tmp_path / "a"), str(first)])
    assert got == [first, tmp_path / "a" / "a.c"]
    missing = tmp_path / "nope.c"
    assert expand_actions([str(missing)]) == [missing]  # the reader says it is missing


def test_a_folder_without_actions_is_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "empty", "README.md")
    with pytest.raises(ExtframeError, match="no action in this folder"):
        expand_actions([str(tmp_path / "empty")])
