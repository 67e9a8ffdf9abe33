"""ctypes bindings to Debian's libbpf.so.1 (libbpf 1.1): only what extframe calls.

libbpf 1.x reports errors as NULL or a negative errno and sets ``errno``;
every wrapper here turns that into ``OSError`` so callers never check codes.
libbpf's own messages go through ``libbpf_set_print``; ``capture_messages``
collects them so that a failure can say what libbpf said.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as errno_mod
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

c_void_p = ctypes.c_void_p

_lib: ctypes.CDLL | None = None
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, c_void_p]

# Signatures: name -> (restype, argtypes). Kept as data so that a missing or
# renamed symbol fails at import with its name, not later with a segfault.
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "libbpf_set_print": (c_void_p, [c_void_p]),
    "bpf_object__open_mem": (c_void_p, [c_void_p, ctypes.c_size_t, c_void_p]),
    "bpf_object__load": (ctypes.c_int, [c_void_p]),
    "bpf_object__close": (None, [c_void_p]),
    "bpf_object__next_program": (c_void_p, [c_void_p, c_void_p]),
    "bpf_object__next_map": (c_void_p, [c_void_p, c_void_p]),
    "bpf_program__name": (ctypes.c_char_p, [c_void_p]),
    "bpf_program__section_name": (ctypes.c_char_p, [c_void_p]),
    "bpf_program__type": (ctypes.c_int, [c_void_p]),
    "bpf_program__set_type": (ctypes.c_int, [c_void_p, ctypes.c_int]),
    "bpf_program__set_log_level": (ctypes.c_int, [c_void_p, ctypes.c_uint32]),
    "bpf_program__set_log_buf": (ctypes.c_int, [c_void_p, c_void_p, ctypes.c_size_t]),
    "bpf_program__fd": (ctypes.c_int, [c_void_p]),
    "bpf_program__insn_cnt": (ctypes.c_size_t, [c_void_p]),
    "bpf_program__insns": (c_void_p, [c_void_p]),
    "bpf_map__name": (ctypes.c_char_p, [c_void_p]),
    "bpf_map__fd": (ctypes.c_int, [c_void_p]),
    "bpf_map__type": (ctypes.c_int, [c_void_p]),
    "bpf_map__key_size": (ctypes.c_uint32, [c_void_p]),
    "bpf_map__value_size": (ctypes.c_uint32, [c_void_p]),
    "bpf_map__max_entries": (ctypes.c_uint32, [c_void_p]),
    "bpf_map__is_internal": (ctypes.c_bool, [c_void_p]),
    "bpf_map__set_pin_path": (ctypes.c_int, [c_void_p, ctypes.c_char_p]),
    "libbpf_bpf_prog_type_str": (ctypes.c_char_p, [ctypes.c_int]),
    "libbpf_bpf_map_type_str": (ctypes.c_char_p, [ctypes.c_int]),
    "bpf_obj_pin": (ctypes.c_int, [ctypes.c_int, ctypes.c_char_p]),
    "bpf_obj_get": (ctypes.c_int, [ctypes.c_char_p]),
    "bpf_map_update_elem": (ctypes.c_int, [ctypes.c_int, c_void_p, c_void_p, ctypes.c_uint64]),
    "bpf_map_lookup_elem": (ctypes.c_int, [ctypes.c_int, c_void_p, c_void_p]),
    "libbpf_num_possible_cpus": (ctypes.c_int, []),
    "bpf_map_delete_elem": (ctypes.c_int, [ctypes.c_int, c_void_p]),
    "bpf_map_get_next_key": (ctypes.c_int, [ctypes.c_int, c_void_p, c_void_p]),
    "bpf_prog_test_run_opts": (ctypes.c_int, [ctypes.c_int, c_void_p]),
    "bpf_obj_get_info_by_fd": (ctypes.c_int, [ctypes.c_int, c_void_p, c_void_p]),
    "btf__load_from_kernel_by_id": (c_void_p, [ctypes.c_uint32]),
    "btf__raw_data": (c_void_p, [c_void_p, c_void_p]),
    "btf__free": (None, [c_void_p]),
    "ring_buffer__new": (c_void_p, [ctypes.c_int, c_void_p, c_void_p, c_void_p]),
    "ring_buffer__poll": (ctypes.c_int, [c_void_p, ctypes.c_int]),
    "ring_buffer__consume": (ctypes.c_int, [c_void_p]),
    "ring_buffer__free": (None, [c_void_p]),
    "bpf_prog_load": (
        ctypes.c_int,
        [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, c_void_p, ctypes.c_size_t, c_void_p],
    ),
}

# enum bpf_prog_type values (include/uapi/linux/bpf.h) extframe supports.
PROG_TYPE_SCHED_CLS = 3
PROG_TYPE_XDP = 6

# BPF_ANY / BPF_NOEXIST / BPF_EXIST map update flags.
BPF_ANY = 0


class TestRunOpts(ctypes.Structure):
    """``struct bpf_test_run_opts`` of libbpf 1.1 (bpf/bpf.h)."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", c_void_p),
        ("data_out", c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", c_void_p),
        ("ctx_out", c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class ObjectOpenOpts(ctypes.Structure):
    """``struct bpf_object_open_opts`` of libbpf 1.1 (bpf/libbpf.h), 80 bytes."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("object_name", ctypes.c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", ctypes.c_char_p),
        ("_attach_prog_fd", ctypes.c_uint32),
        ("kconfig", ctypes.c_char_p),
        ("btf_custom_path", ctypes.c_char_p),
        ("kernel_log_buf", ctypes.c_char_p),
        ("kernel_log_size", ctypes.c_size_t),
        ("kernel_log_level", ctypes.c_uint32),
    ]


class SkBuff(ctypes.Structure):
    """``struct __sk_buff`` (include/uapi/linux/bpf.h), 192 bytes.

    BPF_PROG_TEST_RUN accepts only mark, priority, ingress_ifindex, ifindex,
    cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp as input
    (net/bpf/test_run.c, convert___skb_to_skb); every other field must be 0.
    """

    _fields_ = [
        ("len", ctypes.c_uint32),
        ("pkt_type", ctypes.c_uint32),
        ("mark", ctypes.c_uint32),
        ("queue_mapping", ctypes.c_uint32),
        ("protocol", ctypes.c_uint32),
        ("vlan_present", ctypes.c_uint32),
        ("vlan_tci", ctypes.c_uint32),
        ("vlan_proto", ctypes.c_uint32),
        ("priority", ctypes.c_uint32),
        ("ingress_ifindex", ctypes.c_uint32),
        ("ifindex", ctypes.c_uint32),
        ("tc_index", ctypes.c_uint32),
        ("cb", ctypes.c_uint32 * 5),
        ("hash", ctypes.c_uint32),
        ("tc_classid", ctypes.c_uint32),
        ("data", ctypes.c_uint32),
        ("data_end", ctypes.c_uint32),
        ("napi_id", ctypes.c_uint32),
        ("family", ctypes.c_uint32),
        ("remote_ip4", ctypes.c_uint32),
        ("local_ip4", ctypes.c_uint32),
        ("remote_ip6", ctypes.c_uint32 * 4),
        ("local_ip6", ctypes.c_uint32 * 4),
        ("remote_port", ctypes.c_uint32),
        ("local_port", ctypes.c_uint32),
        ("data_meta", ctypes.c_uint32),
        ("flow_keys", ctypes.c_uint64),
        ("tstamp", ctypes.c_uint64),
        ("wire_len", ctypes.c_uint32),
        ("gso_segs", ctypes.c_uint32),
        ("sk", ctypes.c_uint64),
        ("gso_size", ctypes.c_uint32),
        ("tstamp_type", ctypes.c_uint8),
        ("_pad", ctypes.c_uint8 * 3),
        ("hwtstamp", ctypes.c_uint64),
    ]


assert ctypes.sizeof(SkBuff) == 192, "struct __sk_buff layout changed"
assert ctypes.sizeof(TestRunOpts) == 80, "struct bpf_test_run_opts layout changed"
assert ctypes.sizeof(ObjectOpenOpts) == 80, "struct bpf_object_open_opts layout changed"

_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, c_void_p)
_messages_lock = threading.Lock()
_messages: list[str] | None = None


def _print_impl(level: int, fmt: bytes, args: int) -> int:
    global _messages
    if _messages is None:
        return 0
    buf = ctypes.create_string_buffer(4096)
    _libc.vsnprintf(buf, len(buf), fmt, args)
    _messages.append(buf.value.decode(errors="replace").rstrip("\n"))
    return 0


# libbpf keeps this pointer for the life of the process: so must we.
_print = _PRINT_FN(_print_impl)


def lib() -> ctypes.CDLL:
    """The loaded libbpf, with every signature extframe uses declared."""
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            handle = ctypes.CDLL(name, use_errno=True)
        except OSError as e:
            raise OSError(
                errno_mod.ENOENT, f"libbpf not found ({e}); run `make setup` (installs libbpf1)"
            ) from e
        for fn, (restype, argtypes) in _SIGNATURES.items():
            f = getattr(handle, fn)
            f.restype, f.argtypes = restype, argtypes
        handle.libbpf_set_print(ctypes.cast(_print, c_void_p))
        _lib = handle
    return _lib


@contextmanager
def capture_messages() -> Iterator[list[str]]:
    """Collect libbpf's messages (warnings and debug) while the block runs."""
    global _messages
    lib()
    with _messages_lock:
        saved, _messages = _messages, []
        try:
            yield _messages
        finally:
            _messages = saved


def check(ret: int, what: str) -> int:
    """Raise ``OSError`` for a negative libbpf return; pass others through."""
    if ret < 0:
        err = ctypes.get_errno() or -ret
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def prog_type_name(prog_type: int) -> str:
    """libbpf's name for a program type (``sched_cls``, ``xdp``, …)."""
    s = lib().libbpf_bpf_prog_type_str(prog_type)
    return s.decode() if s else f"type{prog_type}"


def map_type_name(map_type: int) -> str:
    """libbpf's name for a map type (``hash``, ``array``, …)."""
    s = lib().libbpf_bpf_map_type_str(map_type)
    return s.decode() if s else f"type{map_type}"


def kernel_can_load() -> str | None:
    """Why this process cannot load BPF programs, or None when it can.

    Loads the two-instruction program ``r0 = 0; exit`` as a tc program.
    """
    try:
        handle = lib()
    except OSError as e:
        return str(e)
    insns = bytes.fromhex("b7000000000000009500000000000000")
    fd = handle.bpf_prog_load(PROG_TYPE_SCHED_CLS, b"probe", b"GPL", insns, 2, None)
    if fd < 0:
        err = ctypes.get_errno()
        return f"bpf(BPF_PROG_LOAD) failed: {os.strerror(err)} (needs root with CAP_BPF)"
    os.close(fd)
    return None
