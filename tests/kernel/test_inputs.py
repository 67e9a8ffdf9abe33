"""Files a user names are read only when they are regular files within a size limit.

One committed FIFO or symbolic link to /dev/zero must not hang or exhaust a
CI gate: each is refused in one line, exit 2, before anything is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from extframe.inputs import MAX_INPUT_SIZE
from tests.conftest import ACTIONS, ROOT

pytestmark = pytest.mark.kernel


def _extframe(*args: str) -> tuple[int, list[str]]:
    # A hang would be the bug: the timeout fails the test instead of CI.
    r = subprocess.run(
        [sys.executable, "-m", "extframe", *args],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=60,
    )  # fmt: skip
    return r.returncode, r.stderr.strip().splitlines()


def _action_copy(tmp_path: Path) -> Path:
    src = tmp_path / "port_counter.c"
    src.write_text((ACTIONS / "port_counter.c").read_text().replace('"extframe.h"', "<extframe.h>"))
    return src


# What to make (kind:name), the command line, what its one error line must say.
CASES = [
    ("fifo:x.o", ("check", "{x}"), "a FIFO, not a regular file"),
    ("zero:x.o", ("check", "{x}"), "a character device, not a regular file"),
    ("zero:x.c", ("check", "{x}"), "a character device, not a regular file"),
    ("fifo:x.c", ("build", "{x}"), "a FIFO, not a regular file"),
    ("zero:raw.bin", ("check", "--raw", "--type", "tc", "{x}"), "a character device"),
    ("big:x.o", ("check", "{x}"), f"larger than the {MAX_INPUT_SIZE >> 20} MiB"),
    # check, lock and vectors take a folder for the actions in it (none here).
    ("dir:x.o", ("check", "{x}"), "no action in this folder"),
    ("dir:y.o", ("run", "{x}", "--hex", "00"), "a directory, not a regular file"),
    ("dir:lock", ("check", "--locked", "--lock", "{x}", "{action}"), "a directory"),
    ("zero:lock", ("check", "--locked", "--lock", "{x}", "{action}"), "a character device"),
    ("fifo:lock", ("check", "--locked", "--lock", "{x}", "{action}"), "a FIFO"),
    ("zero:port_counter.effects.toml", ("check", "{action}"), "a character device"),
    ("fifo:port_counter.vectors.toml", ("vectors", "{action}"), "a FIFO"),
    ("fifo:y.o", ("vectors", "{x}"), "a FIFO"),
]


@pytest.mark.parametrize(("make", "args", "words"), CASES, ids=[c[0] for c in CASES])
def test_what_is_not_a_regular_file_is_refused_in_one_line(
    tmp_path: Path, make: str, args: tuple[str, ...], words: str
) -> None:
    kind, name = make.split(":")
    x = tmp_path / name
    if kind == "fifo":
        os.mkfifo(x)
    elif kind == "zero":
        x.symlink_to("/dev/zero")
    elif kind == "dir":
        x.mkdir()
    else:
        with open(x, "wb") as f:
            f.truncate(MAX_INPUT_SIZE + 1)  # sparse: costs no disk
    action = _action_copy(tmp_path)
    if name == "y.o":  # vectors reads the object once its vectors are there
        shutil.copy(ACTIONS / "port_counter.vectors.toml", tmp_path / "y.vectors.toml")
    rc, err = _extframe(*(a.format(x=x, action=action) for a in args))
    assert rc == 2 and len(err) == 1 and err[0].startswith("extframe: error:"), err
    assert words in err[0] and str(x) in err[0], err


def test_a_regular_file_through_a_symbolic_link_still_reads(tmp_path: Path) -> None:
    link = tmp_path / "linked.c"
    link.symlink_to(_action_copy(tmp_path))
    shutil.copy(ACTIONS / "port_counter.vectors.toml", tmp_path / "linked.vectors.toml")
    rc, err = _extframe("check", str(link))
    assert rc == 0, err
