"""Folders extframe writes in as root: proven to be its own before it uses them.

bpffs is world-writable and sticky, as /tmp is, and a switch's run
directory can be anywhere: a folder another user made, may write, or
replaced with a symbolic link would let that user redirect what root
writes. ``check_folder`` refuses each of those in one line that says what
to do. ``replace_file`` and ``new_file_in`` write files in such folders
without following what another user may have planted there.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from extframe.errors import ExtframeError


def check_folder(path: Path, error: type[ExtframeError], *, may_be_shared: bool = False) -> None:
    """Raise ``error`` unless ``path`` is a real folder of this user that nobody else may change.

    ``may_be_shared``: a world-writable folder is accepted when it is sticky
    (a mount point such as /sys/fs/bpf, where others may not rename ours).
    """
    me = os.geteuid()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise error(f"{path} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise error(
            f"{path} is a symbolic link; extframe works only in folders it owns: "
            f"remove it (rm {path}) and retry"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise error(f"{path} is not a folder: remove it (rm {path}) and retry")
    if st.st_uid != me:
        raise error(
            f"{path} belongs to uid {st.st_uid}, not to uid {me}: another user may have "
            f"planted it; check what it holds, remove it (rm -r {path}) and retry"
        )
    if st.st_mode & 0o022 and not (may_be_shared and st.st_mode & stat.S_ISVTX):
        raise error(
            f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"extframe works only in folders nobody else may change: chmod go-w {path}"
        )


def replace_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically, through a temporary file nobody planted.

    The temporary file has a random name and is created exclusively
    (``mkstemp``): a symbolic link or file another user put in the folder
    is never followed or written through. ``mode`` is set on it before the
    rename, so the file is never readable more widely than asked.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def new_file_in(folder: Path, name: str) -> Iterator[Path]:
    """A fresh, empty temporary file next to ``folder/name`` for a tool to write; removed after.

    For programs such as clang that open their output by name: the file
    exists, is this user's and was created exclusively before they open it.
    """
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
