"""Loading BPF ELF objects into the kernel with the complete verifier log.

open → load → close, as libbpf does it: ``load_object()`` opens the ELF with
libbpf, creates its maps, applies relocations and loads every program with a
level-2 verifier log of its own. Each log buffer is 256 MiB of anonymous
memory that costs nothing until the kernel writes into it, so one load gets
the whole log of every program the kernel can verify. A log that does not
fit makes the load fail with ENOSPC even when verification passed; the
object is then loaded once more at log level 1 (the path to an error only):
the verifier's verdict and, for a rejection, its reason and C line. See
docs/decisions/0002-verifier-log.md.

When the level-2 log cannot be had whole, ``log_complete`` is False, so that
no caller can take a truncated log for a whole one. Maps that ask libbpf to
pin them by name (``LIBBPF_PIN_BY_NAME``) are not pinned: extframe pins what
it keeps itself (``extframe.kernel.bpffs``), and loading leaves bpffs as it was.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analyzer.verifier_log import is_complete, processed_insns, summarize
from extframe.errors import LoadError, MapError, ObjectError, VerifierError
from extframe.inputs import read_input
from extframe.kernel import libbpf

EM_BPF = 247

#: ``--type`` names and the program types they select.
PROG_TYPES: dict[str, int] = {"tc": libbpf.PROG_TYPE_SCHED_CLS, "xdp": libbpf.PROG_TYPE_XDP}

# Verifier log levels (include/uapi/linux/bpf.h): BPF_LOG_LEVEL1 = 1,
# BPF_LOG_LEVEL2 = 2, BPF_LOG_STATS = 4. libbpf 1.1 accepts at most 7, so
# BPF_LOG_FIXED (8) is out of reach here.
LOG_LEVEL1 = 1
LOG_STATS = 4


@dataclass(frozen=True, kw_only=True)
class LoadOptions:
    """How to load an object.

    ``prog_type``: ``"tc"`` or ``"xdp"`` for every program, overriding what the
    section names say (for objects built with non-standard section names).
    ``log_level``: 2 records the register state at every instruction (what
    the analyzer reads), 1 only the path to an error, 0 nothing.
    ``log_size``: the first log buffer, in bytes, per program; its memory is
    only used as far as the kernel writes, so the default is the largest.
    ``max_log_size``: the largest buffer tried before giving up on a whole log
    (a smaller first buffer grows fourfold on ENOSPC up to it).
    """

    prog_type: str | None = None
    log_level: int = 2
    log_size: int = 256 << 20
    max_log_size: int = 256 << 20


@dataclass(frozen=True, kw_only=True)
class LoadedMap:
    """A map the kernel created for an object; ``fd`` stays valid until close."""

    name: str
    fd: int
    map_type: str
    key_size: int
    value_size: int
    max_entries: int
    internal: bool

    @property
    def per_cpu(self) -> bool:
        """Per-CPU maps hold one value per possible CPU, not one value."""
        return "percpu" in self.map_type

    def lookup(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None when there is none."""
        self._check_key(key)
        value = ctypes.create_string_buffer(self.value_size)
        if libbpf.lib().bpf_map_lookup_elem(self.fd, key, value) < 0:
            err = ctypes.get_errno()
            if err == errno.ENOENT:
                return None
            raise MapError(f"lookup in map {self.name!r} failed: {os.strerror(err)}")
        return value.raw

    def lookup_per_cpu(self, key: bytes) -> list[bytes] | None:
        """A per-CPU map's values under ``key``, one for each possible CPU, or None."""
        if not self.per_cpu:
            raise MapError(f"map {self.name!r} is {self.map_type}, not a per-CPU map")
        if len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key is {len(key)} bytes, needs {self.key_size}")
        cpus = libbpf.lib().libbpf_num_possible_cpus()
        if cpus <= 0:
            raise MapError(f"cannot count the possible CPUs: {os.strerror(-cpus)}")
        values = ctypes.create_string_buffer(per_cpu_room(self.value_size) * cpus)
        if libbpf.lib().bpf_map_lookup_elem(self.fd, key, values) < 0:
            err = ctypes.get_errno()
            if err == errno.ENOENT:
                return None
            raise MapError(f"lookup in map {self.name!r} failed: {os.strerror(err)}")
        return split_per_cpu(values.raw, self.value_size)

    def update(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key`` (BPF_ANY)."""
        self._check_key(key)
        if len(value) != self.value_size:
            raise MapError(
                f"map {self.name!r}: value is {len(value)} bytes, needs {self.value_size}"
            )
        if libbpf.lib().bpf_map_update_elem(self.fd, key, value, libbpf.BPF_ANY) < 0:
            err = ctypes.get_errno()
            why = " (the key is past max_entries)" if err == errno.E2BIG else ""
            raise MapError(f"update of map {self.name!r} failed: {os.strerror(err)}{why}")

    def delete(self, key: bytes) -> None:
        """Remove ``key`` (an array's entries cannot be removed: EINVAL)."""
        self._check_key(key)
        if libbpf.lib().bpf_map_delete_elem(self.fd, key) < 0:
            err = ctypes.get_errno()
            raise MapError(f"delete from map {self.name!r} failed: {os.strerror(err)}")

    def keys(self) -> Iterator[bytes]:
        """Every key in the map, in the kernel's order."""
        key = ctypes.create_string_buffer(self.key_size)
        prev: ctypes.Array[ctypes.c_char] | None = None
        while libbpf.lib().bpf_map_get_next_key(self.fd, prev, key) == 0:
            yield key.raw
            prev = ctypes.create_string_buffer(key.raw, self.key_size)

    def _check_key(self, key: bytes) -> None:
        # The kernel copies round_up(value_size, 8) bytes per possible CPU
        # for these (kernel/bpf/syscall.c, bpf_map_value_size): a
        # value_size buffer would overflow.
        if self.per_cpu:
            raise MapError(
                f"map {self.name!r} is {self.map_type}: reading or writing per-CPU maps "
                "is not supported yet; use a shared map in vectors"
            )
        if len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key is {len(key)} bytes, needs {self.key_size}")


def per_cpu_room(value_size: int) -> int:
    """The bytes one CPU's value takes in a per-CPU value of the kernel's map
    syscalls: the value size rounded up to 8 (``bpf_map_value_size()``)."""
    return -(-value_size // 8) * 8


def split_per_cpu(raw: bytes, value_size: int) -> list[bytes]:
    """A per-CPU value as the kernel's map syscalls give it cut into the CPUs' values."""
    room = per_cpu_room(value_size)
    return [raw[i : i + value_size] for i in range(0, len(raw), room)]


@dataclass(frozen=True, kw_only=True)
class LoadedProgram:
    """A program the verifier accepted, with its log.

    ``insns`` are the instructions as libbpf handed them to the kernel
    (relocated, subprograms appended): what the verifier log's instruction
    indices refer to.
    """

    name: str
    section: str
    prog_type: int
    fd: int
    insn_count: int
    insns: bytes
    log: str
    log_complete: bool

    @property
    def type_name(self) -> str:
        """``tc`` or ``xdp``."""
        return next(k for k, v in PROG_TYPES.items() if v == self.prog_type)

    @property
    def processed_insns(self) -> int | None:
        """How many instructions the verifier processed, from its log."""
        return processed_insns(self.log)

    def identity(self) -> tuple[int, str]:
        """The kernel's id of this program and its tag (hex): what a record binds to."""
        return program_identity(self.fd)


def program_identity(fd: int) -> tuple[int, str]:
    """The kernel's id and tag (hex) of the program behind ``fd``."""
    info = _ProgInfo()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    if libbpf.lib().bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(size)) < 0:
        err = ctypes.get_errno()
        raise LoadError(f"cannot read a program's info (fd {fd}): {os.strerror(err)}")
    return info.id, bytes(info.tag).hex()


class _ProgInfo(ctypes.Structure):
    """The start of ``struct bpf_prog_info`` (include/uapi/linux/bpf.h).

    The kernel fills as much of the struct as the caller's size says.
    """

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("tag", ctypes.c_uint8 * 8),
    ]


@dataclass(kw_only=True)
class LoadedObject:
    """An object whose maps and programs are in the kernel until ``close()``."""

    path: Path
    name: str
    programs: list[LoadedProgram]
    maps: list[LoadedMap]
    _handle: int | None = None
    _buffer: ctypes.Array[ctypes.c_char] | None = None

    def program(self, name: str | None = None) -> LoadedProgram:
        """The program called ``name``; without a name, the first one."""
        if name is None:
            return self.programs[0]
        for p in self.programs:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.programs)
        raise LoadError(f"{self.path}: no program {name!r} (programs: {known})")

    def map(self, name: str) -> LoadedMap:
        """The map called ``name`` in the C source."""
        for m in self.maps:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.maps) or "none"
        raise LoadError(f"{self.path}: no map {name!r} (maps: {known})")

    def close(self) -> None:
        """Release the object's file descriptors; pinned parts stay in bpffs."""
        if self._handle is not None:
            libbpf.lib().bpf_object__close(self._handle)
            self._handle = None
            self._buffer = None

    def __enter__(self) -> LoadedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_object(path: Path, label: Path | None = None) -> bytes:
    """The bytes of the object file at ``path``, checked to be a BPF ELF object.

    ``label`` is the name messages use (the ``.c`` it was built from).
    """
    label = label or path
    data = read_input(path, ObjectError, label=label)
    check_elf(data, label)
    return data


def check_elf(data: bytes, path: Path) -> None:
    """Refuse what is not a BPF ELF object, before libbpf sees it."""
    if not data:
        raise ObjectError(f"{path}: empty file; build an object with `extframe build ACTION.c`")
    if data[:4] != b"\x7fELF":
        raise ObjectError(
            f"{path}: not an ELF object; give a .c source or an object from `extframe build`"
        )
    if len(data) < 20:
        raise ObjectError(f"{path}: truncated ELF header ({len(data)} bytes)")
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if machine != EM_BPF:
        raise ObjectError(
            f"{path}: ELF object for machine {machine}, not BPF ({EM_BPF}); "
            "compile it with `extframe build` or clang -target bpf"
        )


def _programs(handle: int) -> Iterator[int]:
    lib = libbpf.lib()
    prog = lib.bpf_object__next_program(handle, None)
    while prog:
        yield prog
        prog = lib.bpf_object__next_program(handle, prog)


def _maps(handle: int) -> Iterator[int]:
    lib = libbpf.lib()
    m = lib.bpf_object__next_map(handle, None)
    while m:
        yield m
        m = lib.bpf_object__next_map(handle, m)


def _crashes_libbpf(data: bytes) -> int | None:
    """The signal that kills libbpf opening ``data``, or None when it survives.

    libbpf 1.1 can crash (SIGSEGV) on an object whose .BTF or .BTF.ext is
    corrupt, so a first open happens in a forked child: a crash there is a
    clean error here instead of the end of the process.
    """
    pid = os.fork()
    if pid == 0:  # child: open, close, report by exit status only
        try:
            lib = libbpf.lib()
            buf = ctypes.create_string_buffer(data, len(data))
            handle = lib.bpf_object__open_mem(buf, len(data), None)
            if handle:
                lib.bpf_object__close(handle)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


def _open(
    data: bytes, path: Path, name: bytes, messages: list[str]
) -> tuple[int, ctypes.Array[ctypes.c_char]]:
    lib = libbpf.lib()
    buf = ctypes.create_string_buffer(data, len(data))
    # Without an object name libbpf makes one from the buffer's address,
    # and internal maps (NAME.rodata, …) would change name on every load.
    opts = libbpf.ObjectOpenOpts(sz=ctypes.sizeof(libbpf.ObjectOpenOpts))
    opts.object_name = name
    handle = lib.bpf_object__open_mem(buf, len(data), ctypes.byref(opts))
    if not handle:
        err = ctypes.get_errno()
        said = next((m for m in reversed(messages) if "libbpf" in m or m), "")
        raise ObjectError(
            f"{path}: libbpf cannot open this object ({errno.errorcode.get(err, err)})"
            + (f": {said.removeprefix('libbpf: ').strip()}" if said else "")
        )
    return handle, buf


def _choose_type(prog: int, path: Path, options: LoadOptions) -> int:
    lib = libbpf.lib()
    section = lib.bpf_program__section_name(prog).decode()
    if options.prog_type is not None:
        wanted = PROG_TYPES[options.prog_type]
        libbpf.check(lib.bpf_program__set_type(prog, wanted), "bpf_program__set_type")
        return wanted
    ptype = int(lib.bpf_program__type(prog))
    if ptype not in PROG_TYPES.values():
        what = (
            "does not name a program type" if ptype == 0 else f"is {libbpf.prog_type_name(ptype)}"
        )
        raise ObjectError(
            f"{path}: section {section!r} {what}; extframe actions are tc or xdp: "
            'use SEC("tc") or pass --type tc'
        )
    return ptype


def load_object(
    path: Path, options: LoadOptions | None = None, *, shown_as: Path | None = None
) -> LoadedObject:
    """Open ``path`` with libbpf and load every program and map into the kernel.

    ``shown_as`` is the name messages and the result use for the object (the
    ``.c`` a temporary object was built from). Raises ``ObjectError`` for
    input that is not a usable object, ``VerifierError`` when the verifier
    rejects a program (with the whole log), ``LoadError`` for any other
    refusal. On error nothing stays loaded.
    """
    options = options or LoadOptions()
    label = shown_as or path
    if options.prog_type is not None and options.prog_type not in PROG_TYPES:
        raise LoadError(f"unknown program type {options.prog_type!r}: use tc or xdp")
    data = read_object(path, label)
    signal = _crashes_libbpf(data)
    if signal is not None:
        raise ObjectError(
            f"{label}: libbpf crashed reading this object (signal {signal}); its .BTF or "
            ".BTF.ext is corrupt: rebuild it with `extframe build`"
        )
    path = label
    log_size = options.log_size
    log_level = options.log_level | LOG_STATS if options.log_level else 0
    while True:
        with libbpf.capture_messages() as messages:
            result = _try_load(data, path, options, log_level, log_size, messages)
        if result is not None:
            return result
        if log_size >= options.max_log_size:
            return _load_without_the_log(data, path, options)
        log_size = min(log_size * 4, options.max_log_size)


def _load_without_the_log(data: bytes, path: Path, options: LoadOptions) -> LoadedObject:
    """Load an object whose level-2 log does not fit: the verdict, without that log.

    Level 1 logs only the path to an error, so a program the verifier
    rejects (over the 1,000,000-instruction limit, say) still gets its
    reason and C line; one it accepts is loaded with ``log_complete`` False.
    If even that log overflows, a load at level 0 decides; libbpf repeats a
    failed one at level 1 into the buffer it was given, whose end (a
    rotating log keeps the end) holds the verifier's reason.
    """
    with libbpf.capture_messages() as messages:
        result = _try_load(
            data, path, options, LOG_LEVEL1 | LOG_STATS, options.max_log_size, messages
        )
    if result is None:
        with libbpf.capture_messages() as messages:
            result = _try_load(data, path, options, 0, _LAST_RESORT_LOG_SIZE, messages)
    assert result is not None  # only a load with a log level overflows
    result.programs = [
        LoadedProgram(**{**p.__dict__, "log": "", "log_complete": False}) for p in result.programs
    ]
    return result


#: The buffer of a load at level 0, for libbpf's level-1 retry of a failure.
_LAST_RESORT_LOG_SIZE = 1 << 20


class _LogBuffer:
    """A log buffer in anonymous memory: pages the kernel does not write cost nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        # Private anonymous pages: the kernel allocates one when it is written.
        self._memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._view = ctypes.c_char.from_buffer(self._memory)

    @property
    def address(self) -> int:
        """Where the kernel writes the log."""
        return ctypes.addressof(self._view)

    def _end(self) -> int:
        end = self._memory.find(b"\0")
        return end if end >= 0 else self.size

    @property
    def written(self) -> bool:
        """Whether the kernel wrote any log into the buffer."""
        return self._memory[0] != 0

    @property
    def full(self) -> bool:
        """Whether the log filled the buffer: it did not fit (the kernel ends it with a NUL)."""
        return self._end() >= self.size - 1

    def text(self) -> str:
        """The log, up to the NUL the kernel ends it with."""
        return self._memory[: self._end()].decode(errors="replace")


def _try_load(
    data: bytes,
    path: Path,
    options: LoadOptions,
    log_level: int,
    log_size: int,
    messages: list[str],
) -> LoadedObject | None:
    """One attempt; None when a log did not fit its buffer (ENOSPC).

    ``log_size`` without ``log_level`` gives each program a buffer all the
    same: libbpf retries a failed level-0 load at level 1 into it.
    """
    lib = libbpf.lib()
    # Bytes whatever the file name's encoding; libbpf makes internal map names
    # (NAME.rodata) from it and replaces what the kernel does not take.
    handle, keep = _open(data, path, os.fsencode(path.stem), messages)
    try:
        progs = list(_programs(handle))
        if not progs:
            raise ObjectError(f'{path}: no programs in this object; mark one with SEC("tc")')
        for m in _maps(handle):
            # LIBBPF_PIN_BY_NAME would pin under /sys/fs/bpf, or reuse a map
            # pinned there by anyone: what extframe keeps it pins itself.
            libbpf.check(lib.bpf_map__set_pin_path(m, None), "bpf_map__set_pin_path")
        types = [_choose_type(p, path, options) for p in progs]
        bufs = [_LogBuffer(log_size) if log_size else None for _ in progs]
        for p, buf in zip(progs, bufs, strict=True):
            if buf is not None:
                libbpf.check(lib.bpf_program__set_log_buf(p, buf.address, log_size), "set_log_buf")
            libbpf.check(lib.bpf_program__set_log_level(p, log_level), "set_log_level")
        ret = lib.bpf_object__load(handle)
        if ret == -errno.ENOSPC and log_level and _overflowed(bufs):
            lib.bpf_object__close(handle)
            return None
        logs = [b.text() if b is not None else "" for b in bufs]
        del bufs  # their pages go now, not with a traceback
        if ret < 0:
            _raise_load_failure(path, progs, logs, -ret, messages, whole=bool(log_level & 2))
        programs = [
            LoadedProgram(
                name=lib.bpf_program__name(p).decode(),
                section=lib.bpf_program__section_name(p).decode(),
                prog_type=t,
                fd=lib.bpf_program__fd(p),
                insn_count=lib.bpf_program__insn_cnt(p),
                insns=ctypes.string_at(lib.bpf_program__insns(p), 8 * lib.bpf_program__insn_cnt(p)),
                log=log,
                log_complete=bool(log_level) and is_complete(log),
            )
            for p, t, log in zip(progs, types, logs, strict=True)
        ]
        maps = [
            LoadedMap(
                name=lib.bpf_map__name(m).decode(),
                fd=lib.bpf_map__fd(m),
                map_type=libbpf.map_type_name(lib.bpf_map__type(m)),
                key_size=lib.bpf_map__key_size(m),
                value_size=lib.bpf_map__value_size(m),
                max_entries=lib.bpf_map__max_entries(m),
                internal=bool(lib.bpf_map__is_internal(m)),
            )
            for m in _maps(handle)
        ]
    except BaseException:
        lib.bpf_object__close(handle)
        raise
    # libbpf keeps pointers into the ELF buffer (open_mem does not copy):
    # the buffer lives as long as the object.
    return LoadedObject(
        path=path, name=path.stem, programs=programs, maps=maps, _handle=handle, _buffer=keep
    )


def _overflowed(bufs: list[_LogBuffer | None]) -> bool:
    """Whether the failing program's log filled its buffer (an ENOSPC of the log's own).

    libbpf loads programs in order and stops at the first failure: the
    failing program is the last one whose buffer the kernel wrote.
    """
    written = [b for b in bufs if b is not None and b.written]
    return bool(written) and written[-1].full


def _raise_load_failure(
    path: Path, progs: list[int], logs: list[str], err: int, messages: list[str], *, whole: bool
) -> None:
    """Raise the error of a failed load: the verifier's, when a program has a log.

    ``whole``: the logs are level-2 logs that fitted, not a level-1 path or a tail.
    """
    lib = libbpf.lib()
    # The failing program is the last one with a log (see _overflowed).
    attempted = [(p, log) for p, log in zip(progs, logs, strict=True) if log]
    if attempted:
        prog, log = attempted[-1]
        name = lib.bpf_program__name(prog).decode()
        raise VerifierError(name, log, summarize(log), log_complete=whole and is_complete(log))
    if err == errno.EPERM:
        raise LoadError(
            f"{path}: permission denied loading BPF; run as root (needs CAP_BPF and CAP_SYS_ADMIN)"
        )
    # The last line is always libbpf's generic "failed to load object";
    # the cause is the line before it.
    said = [
        m.removeprefix("libbpf: ").strip()
        for m in messages
        if m.strip() and "failed to load object" not in m
    ]
    detail = said[-1] if said else errno.errorcode.get(err, str(err))
    raise LoadError(f"{path}: load failed: {detail}", log="\n".join(messages))
