"""Running a loaded program on one packet with BPF_PROG_TEST_RUN.

The metadata follows the action ABI (actions/include/extframe.h): OVS's
input port in ``cb[0]``, the flow's argument in ``cb[1]``, ``mark`` and
``priority`` in and out.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass
from typing import Literal

from extframe.errors import RunError
from extframe.kernel import libbpf
from extframe.kernel.loader import LoadedProgram

ETH_HLEN = 14
#: More repeats than this keep a call in the kernel for seconds to minutes.
MAX_REPEAT = 1_000_000
#: Room for a program that grows the packet (VLAN push, adjust_room).
HEADROOM = 4096

Verdict = Literal["continue", "drop", "error"]

# Return code → verdict, per program type. TC: TC_ACT_OK / TC_ACT_SHOT
# (include/uapi/linux/pkt_cls.h). XDP: XDP_PASS / XDP_DROP
# (include/uapi/linux/bpf.h). Anything else is an error that OVS drops.
VERDICTS: dict[int, dict[int, Verdict]] = {
    libbpf.PROG_TYPE_SCHED_CLS: {0: "continue", 2: "drop"},
    libbpf.PROG_TYPE_XDP: {2: "continue", 1: "drop"},
}


@dataclass(frozen=True, kw_only=True)
class RunInput:
    """One packet and its metadata.

    ``packet``: bytes from the Ethernet header. ``in_port``: OVS input port
    (cb[0]). ``arg``: the flow's argument (cb[1]). ``mark``/``priority``:
    skb mark and priority (tc programs only). ``repeat``: how many times the
    kernel runs the program (the duration is averaged over them).
    """

    packet: bytes
    in_port: int = 0
    arg: int = 0
    mark: int = 0
    priority: int = 0
    repeat: int = 1


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a program did to a packet."""

    retval: int
    verdict: Verdict
    packet: bytes
    mark: int
    priority: int
    duration_ns: int
    #: XDP only: the metadata area the program left in front of the frame
    #: (bpf_xdp_adjust_meta()), which the kernel returns before ``packet``.
    meta: bytes = b""


class _XdpMd(ctypes.Structure):
    """``struct xdp_md`` (include/uapi/linux/bpf.h): offsets from the metadata's start."""

    _fields_ = [
        (name, ctypes.c_uint32)
        for name in (
            "data",
            "data_end",
            "data_meta",
            "ingress_ifindex",
            "rx_queue_index",
            "egress_ifindex",
        )
    ]


def run(prog: LoadedProgram, inp: RunInput) -> RunResult:
    """Run ``prog`` once (or ``inp.repeat`` times) on ``inp`` in the kernel."""
    if len(inp.packet) < ETH_HLEN:
        raise RunError(
            f"packet is {len(inp.packet)} bytes; an action needs at least {ETH_HLEN} "
            "(an Ethernet header)"
        )
    if not 1 <= inp.repeat <= MAX_REPEAT:
        raise RunError(f"repeat {inp.repeat}: give 1 to {MAX_REPEAT}")
    for field, value in (
        ("in_port", inp.in_port),
        ("arg", inp.arg),
        ("mark", inp.mark),
        ("priority", inp.priority),
    ):
        if not 0 <= value < 1 << 32:
            raise RunError(f"{field} {value} does not fit in 32 bits")
    data_in = ctypes.create_string_buffer(inp.packet, len(inp.packet))
    data_out = ctypes.create_string_buffer(len(inp.packet) + HEADROOM)
    opts = libbpf.TestRunOpts(sz=ctypes.sizeof(libbpf.TestRunOpts))
    opts.data_in = ctypes.cast(data_in, ctypes.c_void_p)
    opts.data_size_in = len(inp.packet)
    opts.data_out = ctypes.cast(data_out, ctypes.c_void_p)
    opts.data_size_out = len(data_out)
    opts.repeat = inp.repeat
    skb = libbpf.SkBuff()
    xdp = None
    if prog.prog_type == libbpf.PROG_TYPE_SCHED_CLS:
        skb.mark, skb.priority = inp.mark, inp.priority
        skb.cb[0], skb.cb[1] = inp.in_port, inp.arg
        opts.ctx_in = opts.ctx_out = ctypes.cast(ctypes.pointer(skb), ctypes.c_void_p)
        opts.ctx_size_in = opts.ctx_size_out = ctypes.sizeof(skb)
    elif inp.mark or inp.priority or inp.in_port or inp.arg:
        raise RunError("xdp programs take no metadata: drop --in-port/--arg/--mark/--priority")
    else:
        # The kernel returns the bytes from data_meta on, and says in the
        # context where the frame starts (bpf_prog_test_run_xdp()).
        xdp = _XdpMd(data_end=len(inp.packet))
        opts.ctx_in = opts.ctx_out = ctypes.cast(ctypes.pointer(xdp), ctypes.c_void_p)
        opts.ctx_size_in = opts.ctx_size_out = ctypes.sizeof(xdp)
    failed = libbpf.lib().bpf_prog_test_run_opts(prog.fd, ctypes.byref(opts)) < 0
    err = ctypes.get_errno() if failed else 0
    if failed and err == errno.EINVAL and xdp is not None:
        # Before Linux 5.12 an XDP test run takes no context, and returns the
        # bytes from data on: no metadata to split off.
        opts.ctx_in = opts.ctx_out = None
        opts.ctx_size_in = opts.ctx_size_out = 0
        xdp.data = 0
        failed = libbpf.lib().bpf_prog_test_run_opts(prog.fd, ctypes.byref(opts)) < 0
        err = ctypes.get_errno() if failed else 0
    if failed:
        raise RunError(f"BPF_PROG_TEST_RUN failed on program {prog.name!r}: {_explain(err)}")
    retval = int(opts.retval)
    out = data_out.raw[: opts.data_size_out]
    meta = out[: xdp.data] if xdp is not None else b""
    return RunResult(
        retval=retval,
        verdict=VERDICTS[prog.prog_type].get(retval, "error"),
        packet=out[len(meta) :],
        meta=meta,
        mark=int(skb.mark) if prog.prog_type == libbpf.PROG_TYPE_SCHED_CLS else 0,
        priority=int(skb.priority) if prog.prog_type == libbpf.PROG_TYPE_SCHED_CLS else 0,
        duration_ns=int(opts.duration),
    )


def _explain(err: int) -> str:
    text = os.strerror(err)
    if err == errno.EINVAL:
        return f"{text} (the kernel refused the packet or metadata)"
    if err == errno.EPERM:
        return f"{text} (run as root)"
    return text
