"""``extframe mirror``: the CLI of extframe.mirror.session."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from extframe.errors import MirrorError
from extframe.mirror.pcapfilter import MAX_SNAPLEN
from extframe.mirror.session import Mirror, MirrorOptions, summary_json
from extframe.ovs.commands import SWITCH_HELP
from extframe.ovs.switch import Switch, require_root

Result = dict[str, Any]

DESCRIPTION = """\
Capture the packets that reach a point of an OVS pipeline and match a tcpdump
filter, into a pcap that tcpdump, tshark and Wireshark read.

libpcap compiles FILTER (tcpdump's language, `man pcap-filter`) to classic
BPF; extframe translates that to C, adds the copy into a BPF ring buffer,
builds it, and registers it as action mirror_<pid> only once the analysis
has proved it read-only: it cannot change a packet, so the switch does not
re-classify after it and forwarding stays what it was. One flow of priority
65535 runs it at the chosen point, marks the packet in reg15 bit 31 and
resubmits it to the same table, where the table's own flows decide.

The point: --in-port P (packets entering on P), --flow MATCH (an ovs-ofctl
match, with table=N for a later table), or every packet entering the bridge.
--predicate FILE.c adds a C test of your own: define
  static __always_inline int extframe_mirror_match(struct __sk_buff *skb)
returning nonzero to capture (extframe.h's parsers are available); it must be
read-only too.

The terminal shows packets seen at the point, matched, written, and lost to a
full ring buffer (raise -B). The mirror is removed completely on exit: -c,
--duration, Ctrl-C or SIGTERM; a mirror killed with -9 is cleaned up by the
next one on that switch."""

EPILOG = """\
examples:
  extframe mirror "tcp dst port 443 and host 10.0.0.5" -w tls.pcap
  extframe mirror --in-port 1 "udp" -w - -c 10 | tcpdump -nr -
  extframe mirror --flow "table=1,ip,nw_dst=10.0.0.2" "tcp[13] & 2 != 0" -w syn.pcap
  extframe mirror --predicate docs/examples/mirror_low_ttl.c icmp -w ttl.pcap --duration 30

exit status:
  0  the capture ran and ended (-c, --duration, Ctrl-C, SIGTERM)
  2  the filter does not compile (libpcap's message), the predicate is not read-only,
     the switch is not running or stopped, the output cannot be written, ...
  3  the kernel verifier rejected the generated action or the predicate
"""


def cmd_mirror(args: argparse.Namespace) -> Result:
    if args.json and args.write == "-":
        raise MirrorError("-w - writes the pcap to standard output; --json needs a file for -w")
    options = MirrorOptions(
        expression=" ".join(args.filter),
        bridge=args.bridge,
        in_port=args.in_port,
        flow=args.flow,
        predicate=Path(args.predicate) if args.predicate else None,
        output=args.write,
        count=args.count,
        snaplen=args.snaplen or MAX_SNAPLEN,
        duration=args.duration,
        buffer_kib=args.buffer_size,
    )
    require_root("mirror")
    mirror = Mirror(Switch.named(args.switch), options)
    where = "standard output" if options.output == "-" else options.output
    with mirror.signals(), mirror:
        sys.stderr.write(
            f"extframe mirror: {mirror.name} (proved read-only) on {options.bridge}: "
            f"{mirror.flow}\nextframe mirror: writing {where}; Ctrl-C stops\n"
        )
        sys.stderr.flush()
        summary = mirror.run()
    c = summary.counters
    sys.stderr.write(
        f"{summary.written} packets written to {options.output}\n"
        f"{c.seen} packets seen at the mirror point, {c.accepted} matched the filter\n"
        f"{c.ring_full} packets lost to a full ring buffer\n"
        f"stopped by {summary.stopped_by}; the mirror's flow, action and pins are removed\n"
    )
    return {"json": summary_json(summary)}


def text_mirror(_r: Result) -> str:
    return ""  # the summary went to standard error, as tcpdump's does


Command = tuple[Callable[[argparse.Namespace], Result], Callable[[Result], str]]
COMMANDS: dict[str, Command] = {"mirror": (cmd_mirror, text_mirror)}


def add_parsers(
    sub: Any,
    fmt: type[argparse.HelpFormatter],
    common: Callable[..., None],
) -> None:
    p = sub.add_parser(
        "mirror",
        formatter_class=fmt,
        help="capture the packets at a point of the pipeline that match a tcpdump filter",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    p.add_argument(
        "filter", nargs="*", metavar="FILTER", help="a tcpdump filter (default: every packet)"
    )
    p.add_argument(
        "-w",
        "--write",
        required=True,
        metavar="FILE",
        help="the pcap to write; - for standard output",
    )
    p.add_argument("-c", "--count", type=int, help="stop after writing this many packets")
    p.add_argument(
        "-s",
        "--snaplen",
        type=int,
        default=MAX_SNAPLEN,
        help=f"bytes kept of each packet (default and most {MAX_SNAPLEN}; 0 means that too)",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "-B",
        "--buffer-size",
        type=int,
        default=4096,
        metavar="KIB",
        help="the ring buffer, in KiB: a power of two from 4 (default 4096)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--in-port", metavar="P", help="mirror packets entering on port P")
    where.add_argument(
        "--flow",
        metavar="MATCH",
        help="mirror packets matching MATCH, in table N if it says table=N "
        '("table=1,ip,nw_dst=10.0.0.2")',
    )
    p.add_argument(
        "--predicate", metavar="FILE.c", help="a read-only C test of your own, and-ed with FILTER"
    )
    p.add_argument("--bridge", default="br0", help="default br0")
    p.add_argument("--switch", help=SWITCH_HELP)
    common(p, type_opt=False)
