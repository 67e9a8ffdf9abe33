"""``extframe mirror``: the CLI of extframe.mirror.session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TypedDict

from extframe.command import MIRROR, Arg, Command, Example
from extframe.errors import MirrorError
from extframe.mirror.pcapfilter import MAX_SNAPLEN
from extframe.mirror.session import Mirror, MirrorOptions, summary_json
from extframe.ovs.commands import SWITCH_HELP
from extframe.ovs.switch import Switch, require_root

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

EXIT_CODES = """\
exit status:
  0  the capture ran and ended (-c, --duration, Ctrl-C, SIGTERM)
  2  the filter does not compile (libpcap's message), the predicate is not read-only,
     the switch is not running or stopped, the output cannot be written, ...
  3  the kernel verifier rejected the generated action or the predicate
"""


class MirrorResult(TypedDict):
    #: The final counts (--json); the text went to standard error as it ran.
    json: dict[str, Any]


def cmd_mirror(args: argparse.Namespace) -> MirrorResult:
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


def text_mirror(_r: MirrorResult) -> str:
    return ""  # the summary went to standard error, as tcpdump's does


MIRROR_CMD = Command(
    name="mirror",
    group=MIRROR,
    help="capture the packets at a point of the pipeline that match a tcpdump filter",
    description=DESCRIPTION,
    examples=(
        Example('mirror "tcp dst port 443 and host 10.0.0.5" -w tls.pcap'),
        Example('extframe mirror --in-port 1 "udp" -w - -c 10 | tcpdump -nr -', shell=True),
        Example('mirror --flow "table=1,ip,nw_dst=10.0.0.2" "tcp[13] & 2 != 0" -w syn.pcap'),
        Example("mirror --predicate docs/examples/mirror_low_ttl.c icmp -w ttl.pcap --duration 30"),
    ),
    args=(
        Arg("filter", nargs="*", metavar="FILTER", help="a tcpdump filter (default: every packet)"),
        Arg(
            "-w",
            "--write",
            required=True,
            metavar="FILE",
            help="the pcap to write; - for standard output",
        ),
        Arg("-c", "--count", type=int, help="stop after writing this many packets"),
        Arg(
            "-s",
            "--snaplen",
            type=int,
            default=MAX_SNAPLEN,
            help=f"bytes kept of each packet (default and most {MAX_SNAPLEN}; 0 means that too)",
        ),
        Arg("--duration", type=float, metavar="S", help="stop after S seconds"),
        Arg(
            "-B",
            "--buffer-size",
            type=int,
            default=4096,
            metavar="KIB",
            help="the ring buffer, in KiB: a power of two from 4 (default 4096)",
        ),
        Arg("--in-port", metavar="P", help="mirror packets entering on port P", one_of="where"),
        Arg(
            "--flow",
            metavar="MATCH",
            help="mirror packets matching MATCH, in table N if it says table=N "
            '("table=1,ip,nw_dst=10.0.0.2")',
            one_of="where",
        ),
        Arg(
            "--predicate",
            metavar="FILE.c",
            help="a read-only C test of your own, and-ed with FILTER",
        ),
        Arg("--bridge", default="br0", help="default br0"),
        Arg("--switch", help=SWITCH_HELP),
    ),
    exit_codes=EXIT_CODES,
    run=cmd_mirror,
    render=text_mirror,
)

COMMANDS = (MIRROR_CMD,)
