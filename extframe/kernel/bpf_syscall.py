"""BPF_PROG_LOAD through the raw bpf() syscall, for what libbpf 1.1 cannot do.

libbpf 1.1 refuses log levels above 7, so ``BPF_LOG_FIXED`` (8) is out of
its reach, and its ``bpf_attr`` stops at ``fd_array``, so the kernel's
``log_true_size`` (6.4+: the buffer size the whole log needs) never comes
back. This module loads raw bytecode (no ELF, no relocations: the analyzer's
crafted programs) with both. ELF objects go through ``extframe.kernel.loader``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import struct
from dataclasses import dataclass

from analyzer.verifier_log import is_complete
from extframe.kernel import libbpf

SYS_BPF = 321  # x86_64 (arch/x86/entry/syscalls/syscall_64.tbl)
BPF_PROG_LOAD = 5
BPF_LOG_FIXED = 8  # include/uapi/linux/bpf.h: no rotation, keep the head

# union bpf_attr, the BPF_PROG_LOAD part (include/uapi/linux/bpf.h), up to
# log_true_size. Offsets of the fields this module sets or reads:
_ATTR_SIZE = 144
_OFF_LOG_TRUE_SIZE = 140

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


@dataclass(frozen=True, kw_only=True)
class RawLoadOptions:
    """How to load raw bytecode.

    ``prog_type``: a ``libbpf.PROG_TYPE_*`` value. ``log_level``: 1, 2 and
    the stats bit 4 as for the loader; ``fixed`` adds ``BPF_LOG_FIXED`` so a
    log that does not fit keeps its beginning instead of its end.
    ``log_size``: the buffer in bytes. ``name``: at most 15 characters.
    """

    prog_type: int = libbpf.PROG_TYPE_SCHED_CLS
    log_level: int = 2
    fixed: bool = False
    log_size: int = 1 << 20
    name: str = "raw"
    license: str = "GPL"


@dataclass(frozen=True, kw_only=True)
class RawLoad:
    """The outcome of one BPF_PROG_LOAD: a program fd, or the kernel's errno."""

    fd: int | None
    errno: int
    log: str
    log_true_size: int
    log_size: int

    @property
    def log_truncated(self) -> bool:
        """The kernel needed more log room than it was given."""
        return self.log_true_size > self.log_size or self.errno == errno.ENOSPC

    @property
    def log_complete(self) -> bool:
        """The log is whole: it fitted, and it ends as every kernel log does."""
        return not self.log_truncated and is_complete(self.log)

    def close(self) -> None:
        """Release the program (when it loaded)."""
        if self.fd is not None:
            os.close(self.fd)


def _kernel_name(name: str) -> bytes:
    """``name`` as the kernel takes it (bpf_obj_name_cpy): 15 of [A-Za-z0-9_.]."""
    return re.sub(rb"[^A-Za-z0-9_.]", b"_", os.fsencode(name))[:15]


def prog_load(insns: bytes, options: RawLoadOptions | None = None) -> RawLoad:
    """One BPF_PROG_LOAD of ``insns`` (8-byte slots) with the given log."""
    options = options or RawLoadOptions()
    if len(insns) % 8 or not insns:
        raise ValueError(f"bytecode is {len(insns)} bytes, not a non-empty multiple of 8")
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(options.license.encode())
    log = ctypes.create_string_buffer(options.log_size) if options.log_level else None
    level = options.log_level | (BPF_LOG_FIXED if options.fixed else 0)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(
        "<IIQQIIQII16s",
        attr,
        0,
        options.prog_type,
        len(insns) // 8,
        ctypes.addressof(code),
        ctypes.addressof(lic),
        level if log is not None else 0,
        options.log_size if log is not None else 0,
        ctypes.addressof(log) if log is not None else 0,
        0,
        0,
        _kernel_name(options.name),
    )
    fd = _libc.syscall(SYS_BPF, BPF_PROG_LOAD, attr, _ATTR_SIZE)
    err = ctypes.get_errno() if fd < 0 else 0
    (true_size,) = struct.unpack_from("<I", attr, _OFF_LOG_TRUE_SIZE)
    return RawLoad(
        fd=int(fd) if fd >= 0 else None,
        errno=err,
        log=log.value.decode(errors="replace") if log is not None else "",
        log_true_size=true_size,
        log_size=options.log_size if log is not None else 0,
    )


def prog_load_whole_log(insns: bytes, options: RawLoadOptions | None = None) -> RawLoad:
    """Load with a log that is whole: on ENOSPC, once more with the exact size.

    The kernel fills ``log_true_size`` even when the log overflowed, so one
    retry with that size is enough; no geometric growth is needed here.
    """
    options = options or RawLoadOptions()
    first = prog_load(insns, options)
    if not (first.errno == errno.ENOSPC and first.log_true_size > options.log_size):
        return first
    first.close()
    sized = RawLoadOptions(**{**options.__dict__, "log_size": first.log_true_size})
    return prog_load(insns, sized)
