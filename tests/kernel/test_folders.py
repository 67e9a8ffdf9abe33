"""check, lock and vectors take a folder for the actions in it, in a stable order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from extframe.build import build
from tests.conftest import ACTIONS, cli

pytestmark = pytest.mark.kernel


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two sources with their vectors, an object built from one (skipped), one without."""
    f = tmp_path / "acts"
    f.mkdir()
    for stem in ("port_counter", "dec_ttl"):
        shutil.copy(ACTIONS / f"{stem}.c", f)
        shutil.copy(ACTIONS / f"{stem}.vectors.toml", f)
    build(ACTIONS / "dec_ttl.c", f / "dec_ttl.o")
    build(ACTIONS / "mark_setter.c", f / "mark.o")
    return f


def test_check_of_a_folder_is_check_of_its_actions(folder: Path) -> None:
    r = cli("check", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    objects = [p["object"] for p in json.loads(r.stdout)]
    assert objects == [str(folder / n) for n in ("dec_ttl.c", "mark.o", "port_counter.c")]
    named = cli("check", *objects, "--json")
    assert _untimed(json.loads(named.stdout)) == _untimed(json.loads(r.stdout))


def _untimed(programs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for p in programs:
        p["kernel"].pop("verification_time_us")
    return programs


def test_lock_and_vectors_take_a_folder(folder: Path, tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    r = cli("lock", "--lock", str(lock), str(folder))
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(lock.read_text())["actions"]) == [
        "acts/dec_ttl.c",
        "acts/mark.o",
        "acts/port_counter.c",
    ]
    assert cli("check", "--lock", str(lock), str(folder)).returncode == 0
    (folder / "mark.o").unlink()
    r = cli("vectors", str(folder))
    assert r.returncode == 0, r.stderr
    assert [ln.split(":")[0] for ln in r.stdout.splitlines() if not ln.startswith(" ")] == [
        str(folder / "dec_ttl.c"),
        str(folder / "port_counter.c"),
    ]


def test_a_folder_without_actions_fails_the_gate(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    r = cli("check", "--locked", str(tmp_path / "none"))
    assert r.returncode == 2
    assert r.stderr.strip().endswith("name the files, or the folder that holds them")
    assert r.stderr.count("\n") == 1
