"""Pinning loaded objects in bpffs under one project folder.

Layout: ``<root>/<name>/prog/<program>`` and ``<root>/<name>/map/<map>``,
where ``<root>`` is ``/sys/fs/bpf/extframe`` (``$EXTFRAME_BPFFS`` overrides
``/sys/fs/bpf``). bpffs refuses names containing '.', so libbpf's internal
map names (``dec_ttl.rodata``) are pinned with '_' in its place.

bpffs is mode 1777, as /tmp is: any user may create a folder there before
extframe does. So extframe pins only in folders it owns: ``own_folder``
creates each folder below the mount point itself (mode 0700) and refuses a
symbolic link on the way, or a folder another user owns or may write.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from extframe.errors import MapError, PinError
from extframe.kernel import libbpf
from extframe.kernel.loader import LoadedMap, LoadedObject
from extframe.kernel.mapview import map_info
from extframe.owned import check_folder

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def bpffs_mount() -> Path:
    """Where bpffs is expected: ``$EXTFRAME_BPFFS`` or ``/sys/fs/bpf``."""
    return Path(os.environ.get("EXTFRAME_BPFFS", "/sys/fs/bpf"))


def default_root() -> Path:
    """The project folder in bpffs."""
    return bpffs_mount() / "extframe"


def fs_type(path: Path) -> str | None:
    """The type of the file system ``path`` is on, from /proc/self/mountinfo."""
    path = path.resolve()
    best: tuple[int, str] | None = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mount_point = left.split()[4].replace("\\040", " ")
            fstype = right.split()[0]
            if (path == Path(mount_point) or Path(mount_point) in path.parents) and (
                best is None or len(mount_point) >= best[0]
            ):
                best = (len(mount_point), fstype)
    return best[1] if best else None


def require_bpffs(root: Path) -> None:
    """Raise ``PinError`` unless ``root`` (or where it would be) is on bpffs."""
    probe = root
    # A symbolic link on the way is own_folder's to refuse, not to follow here.
    while (probe.is_symlink() or not probe.exists()) and probe != probe.parent:
        probe = probe.parent
    if fs_type(probe) != "bpf":
        mount = bpffs_mount()
        raise PinError(
            f"bpffs is not mounted at {mount}: run `mount -t bpf bpf {mount}` "
            "as root (or `make setup`)"
        )


def own_folder(folder: Path) -> Path:
    """Make ``folder`` below the bpffs mount point exist as this user's own.

    Every missing folder on the way is created with mode 0700; an existing
    one must be a real folder (no symbolic link), owned by this user (root)
    and writable by nobody else, or ``PinError`` says which and what to do.
    The mount point itself may be world-writable and sticky, as bpffs is.
    """
    _walk(folder, create=True)
    return folder


def owned_if_there(folder: Path) -> bool:
    """Whether ``folder`` exists, checked as ``own_folder`` checks it; nothing is created.

    False when it (or a folder on the way) is missing: there is nothing in
    it to read or remove. A folder on the way that another user made, may
    change, or that is a symbolic link raises ``PinError``: removing below it
    as root could remove what it points at.
    """
    return _walk(folder, create=False)


def _walk(folder: Path, *, create: bool) -> bool:
    """Check every folder from the mount point down to ``folder``; make the missing ones
    (mode 0700) if ``create``, else stop at the first one missing and say False."""
    mount = bpffs_mount()
    try:
        parts = folder.relative_to(mount).parts
    except ValueError:
        raise PinError(f"{folder} is not below the bpffs mount point {mount}") from None
    where = mount
    check_folder(where, PinError, may_be_shared=True)
    for part in parts:
        where = where / part
        if create:
            try:
                os.mkdir(where, 0o700)  # a umask can only take more away
                continue
            except FileExistsError:
                pass
        elif not os.path.lexists(where):
            return False
        check_folder(where, PinError)
    return True


def check_name(name: str) -> None:
    """Names are short identifiers: bpffs forbids '.', OVS wants identifiers."""
    if not NAME.match(name):
        raise PinError(
            f"invalid name {name!r}: use letters, digits and '_' (at most 32, not starting "
            "with a digit)"
        )


def pin_name(name: str) -> str:
    """``name`` made acceptable to bpffs."""
    return name.replace(".", "_")


@dataclass(frozen=True, kw_only=True)
class Pinned:
    """Where an object's programs and maps are pinned."""

    name: str
    folder: Path
    programs: dict[str, Path]
    maps: dict[str, Path]


def pin(obj: LoadedObject, name: str, root: Path | None = None) -> Pinned:
    """Pin every program and map of ``obj`` under ``root/name``.

    All or nothing: if any pin fails, every pin made so far is removed.
    """
    root = root or default_root()
    check_name(name)
    require_bpffs(root)
    own_folder(root)
    folder = root / name
    try:
        folder.mkdir(0o700)
    except FileExistsError:
        raise PinError(
            f"{name!r} is already pinned at {folder}: `extframe unload {name}` first"
        ) from None
    programs: dict[str, Path] = {}
    maps: dict[str, Path] = {}
    try:
        (folder / "prog").mkdir(0o700)
        (folder / "map").mkdir(0o700)
        for p in obj.programs:
            programs[p.name] = _pin_fd(p.fd, folder / "prog" / pin_name(p.name))
        for m in obj.maps:
            maps[m.name] = _pin_fd(m.fd, folder / "map" / pin_name(m.name))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Pinned(name=name, folder=folder, programs=programs, maps=maps)


def _pin_fd(fd: int, path: Path) -> Path:
    if libbpf.lib().bpf_obj_pin(fd, str(path).encode()) < 0:
        err = ctypes.get_errno()
        hint = "bpffs is full or read-only" if err in (errno.ENOSPC, errno.EROFS) else ""
        raise PinError(f"cannot pin {path}: {os.strerror(err)}" + (f" ({hint})" if hint else ""))
    return path


def open_pinned(path: Path) -> int:
    """A new file descriptor for the program or map pinned at ``path``."""
    fd: int = libbpf.lib().bpf_obj_get(str(path).encode())
    if fd < 0:
        err = ctypes.get_errno()
        raise PinError(f"cannot open {path}: {os.strerror(err)}")
    return fd


def open_pinned_map(path: Path) -> LoadedMap:
    """The map pinned at ``path``, described by the kernel (type, key and value sizes).

    The caller closes its ``fd``.
    """
    fd = open_pinned(path)
    # The info call fills whichever struct the object has: only a map's
    # fdinfo says map_type.
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            is_map = any(line.startswith("map_type:") for line in f)
    except OSError:
        os.close(fd)
        raise
    if not is_map:
        os.close(fd)
        raise PinError(f"{path} is not a pinned map")
    try:
        info = map_info(fd)
    except MapError as e:
        os.close(fd)
        raise PinError(f"{path}: {e}") from None
    return LoadedMap(
        name=bytes(info.name).split(b"\0")[0].decode(errors="replace") or path.name,
        fd=fd,
        map_type=libbpf.map_type_name(info.type),
        key_size=info.key_size,
        value_size=info.value_size,
        max_entries=info.max_entries,
        internal=False,
    )


def unpin(name: str, root: Path | None = None) -> list[Path]:
    """Remove everything pinned under ``root/name``; return what was removed.

    The kernel frees a program or map once its last pin and file descriptor
    are gone.
    """
    root = root or default_root()
    check_name(name)
    folder = root / name
    if not folder.is_dir():
        known = ", ".join(pinned_names(root)) or "nothing is loaded"
        raise PinError(f"{name!r} is not loaded under {root} ({known})")
    removed = sorted(p for p in folder.rglob("*") if not p.is_dir())
    shutil.rmtree(folder)
    return removed


def pinned_names(root: Path | None = None) -> list[str]:
    """The names of the objects pinned under ``root``."""
    root = root or default_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir())
