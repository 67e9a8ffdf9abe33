"""tcpdump filter expressions compiled by libpcap into classic BPF.

libpcap is the authority on the filter language: extframe hands it the
expression exactly as tcpdump would (``pcap_compile`` on a dead Ethernet
handle, optimised) and takes back its classic-BPF program, or its error
message word for word. Nothing here parses the language itself.

The handle is a dead one (``pcap_open_dead``), not a live Linux socket, so
libpcap reads VLAN tags from the packet bytes, as they are in OVS's
userspace datapath, and never emits Linux's ancillary loads
(``SKF_AD_*``), which only a socket filter could answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

from extframe.errors import MirrorError

#: Ethernet (``DLT_EN10MB``): what OVS hands an action.
LINKTYPE_ETHERNET = 1
#: The netmask tcpdump gives libpcap when it reads a file: there is no interface
#: to ask (``ip broadcast`` then means 255.255.255.255 or 0.0.0.0).
_NETMASK = 0
#: The largest snap length: the largest frame the datapath can hand an action.
MAX_SNAPLEN = 65535


class _Insn(ctypes.Structure):
    """``struct bpf_insn`` of <pcap/bpf.h>."""

    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    """``struct bpf_program`` of <pcap/bpf.h>."""

    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


@dataclass(frozen=True)
class CbpfInsn:
    """One classic-BPF instruction, as libpcap and ``tcpdump -dd`` give it."""

    code: int
    jt: int
    jf: int
    k: int


_lib: ctypes.CDLL | None = None


def _libpcap() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("pcap") or "libpcap.so.0.8"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise MirrorError(
                f"libpcap not found ({e}); run `make setup` (installs libpcap0.8)"
            ) from e
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.restype = ctypes.c_int
        lib.pcap_compile.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(_Program),
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_uint32,
        ]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.restype = None
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
        lib.pcap_close.restype = None
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def compile_filter(expression: str, snaplen: int = MAX_SNAPLEN) -> list[CbpfInsn]:
    """The classic-BPF program libpcap makes of ``expression`` for Ethernet frames.

    An empty expression accepts every packet, as in tcpdump. The program
    returns ``snaplen`` for a packet it accepts and 0 otherwise. Raises
    ``MirrorError`` with libpcap's message when the expression does not
    compile.
    """
    if not 1 <= snaplen <= MAX_SNAPLEN:
        raise MirrorError(f"snap length {snaplen}: give 1..{MAX_SNAPLEN} bytes")
    lib = _libpcap()
    handle = lib.pcap_open_dead(LINKTYPE_ETHERNET, snaplen)
    if not handle:
        raise MirrorError("libpcap could not open a dead Ethernet handle")
    try:
        prog = _Program()
        if lib.pcap_compile(handle, ctypes.byref(prog), expression.encode(), 1, _NETMASK):
            message = lib.pcap_geterr(handle).decode(errors="replace")
            raise MirrorError(f"filter {expression!r} does not compile: {message}")
        try:
            return [
                CbpfInsn(i.code, i.jt, i.jf, i.k)
                for i in (prog.bf_insns[n] for n in range(prog.bf_len))
            ]
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def reference_run(insns: list[CbpfInsn], packet: bytes, wire_len: int | None = None) -> int:
    """What libpcap's own interpreter (``bpf_filter``) returns for ``packet``.

    The oracle of the classic-BPF translation: the snap length it keeps, 0 to
    reject.
    """
    fn = _libpcap().bpf_filter
    fn.restype = ctypes.c_uint
    fn.argtypes = [ctypes.POINTER(_Insn), ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
    prog = (_Insn * len(insns))(*(_Insn(i.code, i.jt, i.jf, i.k) for i in insns))
    wire = len(packet) if wire_len is None else wire_len
    return int(fn(prog, packet, wire, len(packet)))
