"""Reading the files a user names: regular files only, and no more than a limit.

A CI gate reads whatever a repository holds: a FIFO would hang it, and a
symbolic link to /dev/zero would fill its memory. Every file extframe reads
on a user's word (objects, raw bytecode, sources, lock files, manifests,
test vectors) goes through ``read_input``, which refuses anything but a
regular file and anything larger than ``MAX_INPUT_SIZE``, in one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from extframe.errors import ExtframeError

#: The largest file extframe reads, in bytes. The largest public BPF objects
#: are a few MiB; their sources, lock files and vectors far less.
MAX_INPUT_SIZE = 64 << 20

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_input(
    path: Path,
    error: type[ExtframeError] = ExtframeError,
    *,
    label: Path | None = None,
    limit: int = MAX_INPUT_SIZE,
) -> bytes:
    """The bytes of the regular file ``path``; ``error`` (one line) for anything else.

    ``label`` is the name messages use. Anything but a regular file is
    refused before it is opened (a FIFO never blocks, a device never acts).
    """
    label = label or path
    try:
        # Opening a device can act (a watchdog, a tape): look before opening.
        before = os.stat(path)
        _refuse_unless_regular(before, label, limit, error)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{label}: no such file") from None
    except OSError as e:
        raise error(f"{label}: cannot read: {e.strerror}") from None
    try:
        after = os.fstat(fd)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise error(f"{label}: changed while it was opened; retry")
        _refuse_unless_regular(after, label, limit, error)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        try:
            data = f.read(limit + 1)  # a file may grow after fstat
        except OSError as e:
            raise error(f"{label}: cannot read: {e.strerror}") from None
    if len(data) > limit:
        raise error(_too_large(label, limit))
    return data


def check_input(path: Path, error: type[ExtframeError] = ExtframeError) -> None:
    """``read_input``'s refusals without reading: for a file another program reads (clang)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror}") from None
    _refuse_unless_regular(st, path, MAX_INPUT_SIZE, error)


def _refuse_unless_regular(
    st: os.stat_result, label: Path, limit: int, error: type[ExtframeError]
) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a file")
        raise error(f"{label}: cannot read: {kind}, not a regular file (extframe reads only those)")
    if st.st_size > limit:
        raise error(_too_large(label, limit))


def _too_large(label: Path, limit: int) -> str:
    return f"{label}: larger than the {limit >> 20} MiB extframe reads (inputs.MAX_INPUT_SIZE)"


def expand_actions(names: list[str]) -> list[Path]:
    """The actions ``names`` stand for: a file for itself, a folder for the actions in it.

    A folder stands for every ``.c`` directly in it, and every ``.o`` without
    a ``.c`` of the same name beside it (the object built from that source),
    sorted by name. Each action comes once, where it first appears. A folder
    with no action is an error: a gate that checks nothing must not pass.
    """
    out: list[Path] = []
    for name in names:
        path = Path(name)
        if not path.is_dir():
            found = [path]
        else:
            sources = sorted(p for p in path.glob("*.c") if p.is_file())
            stems = {p.stem for p in sources}
            objects = sorted(p for p in path.glob("*.o") if p.is_file() and p.stem not in stems)
            found = sorted(sources + objects)
            if not found:
                raise ExtframeError(
                    f"{path}: no action in this folder (a .c source or a .o object); "
                    "name the files, or the folder that holds them"
                )
        out += [p for p in found if p not in out]
    return out
