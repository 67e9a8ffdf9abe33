"""What an action costs inside the patched OVS userspace datapath, with and without the proof.

A private sandbox (its own run directory and namespaces ``efbench-*``) runs
a two-table pipeline on ``br0`` (``datapath_type=netdev``). Host h1 sends
64-byte UDP frames over 64 flows (source ports 1000 to 1063) with
``trafgen`` at full speed for a fixed time; table 0 takes them from port 1,
table 1 sends them to port 2 (host h2). Seven configurations, interleaved in
rounds a, b, c, d, e, f, g, a, b, ...: four that compare the proof's decisions
(``CONFIGS``),

- (a) stock: ``resubmit(,1)`` and no action;
- (b) ``bpf(ro)``: actions/port_counter.c, proved read-only, ``reclassify=no``;
- (c) ``bpf(ro_rc)``: the same program forced to ``reclassify=yes``
  (``register --reclassify yes``): what a switch without the analysis does;
- (d) ``bpf(ttl)``: actions/dec_ttl.c, a writer, registered from its proof
  as ``reclassify=lazy fields=nw_ttl``, run by the switch's in-process
  executor (the default, ``executor=auto``); table 1 matches ``nw_ttl``, so
  the switch still recirculates before its lookup;

two that put the executors side by side (``EXECUTOR_CONFIGS``),

- (e) ``bpf(ttl_k)``: the same dec_ttl registered with ``executor=kernel``:
  every packet through ``BPF_PROG_TEST_RUN``, as before the in-process
  executor;
- (f) OVS's native ``dec_ttl`` action: no eBPF, and no recirculation either
  (the translation knows the new TTL and sets it in the datapath flow);

and one that shows what lazy re-classification saves (``LAZY_CONFIGS``):

- (g) ``bpf(ttl)``, (d)'s registration, before a table 1 that matches any
  packet (``table=1,priority=10,actions=output:2``): nothing after the
  action observes the TTL, so the switch never recirculates; one pass per
  packet, and as many datapath flows as (b) in the same round.

In (a) to (f), table 1 forwards TTL 64 and TTL 63 alike, so the megaflow
records which TTL the second lookup saw: after (d) and (e), 63; after (f),
the datapath flow itself sets 63 (``set(ipv4(ttl=63))``) before table 1's
output.

Per round: delivered packets per second (h2's ``eth0`` receive counter over
the sending time), the datapath's own packet and recirculation counters
(``dpif-netdev/pmd-stats-show``), the CPU time ovs-vswitchd spent per
datapath packet, the datapath flows at the end of the round and the
action's ``bpf/show`` counters. veth ports are ``system`` netdevs, not PMD
netdevs (``is_pmd = false`` in lib/netdev-linux.c): the main thread polls
them in ``dpif_netdev_run()``, and the PMD cycle counters
(``PMD_CYCLES_ITER_BUSY``/``IDLE``, added by ``pmd_perf_end_iteration()`` in
``pmd_thread_main()``) never see them; so this setup measures
ovs-vswitchd's CPU time from the kernel's process CPU clock
(``CPUCLOCK_SCHED``, nanoseconds) per packet.

The PMD cycles come from a second patched switch (``PmdBench``) whose two
ports are netdev-dummy's ``dummy-pmd`` class (``is_pmd = true``), polled by
one PMD thread pinned to the last core. After the veth rounds (so that
trafgen no longer runs), the same pipelines run there in as many rounds of
a to g, each on ``PMD_PACKETS`` frames identical to trafgen's, all given
by one ``netdev-dummy/receive --repeat`` call (patch 0016: the port's queue
copies the flows' frames in turn while the PMD thread polls it, so that
nothing else of the switch, nor this process, runs during the round). The
PMD thread takes them in bursts of 32 (``options:rx_burst``, patch 0014: a
dummy port otherwise gives one packet a poll, and every per-batch cost of
the datapath would be paid per packet, where a NIC under load gives
bursts). Every other thread of the switch, and this process, run on the
other cores. The PMD thread counts its own cycles with ``rdtsc``
(``cycles_counter_update()`` in lib/dpif-netdev-perf.h; the CPU has
``constant_tsc`` and ``nonstop_tsc``): ``pmd-stats-show``'s ``processing
cycles`` per packet received, and the median of ``pmd-perf-show``'s
cycles/pkt histogram (``pmd-perf-metrics=true``: each busy iteration's
cycles over its packets), a typical packet. They are shown as ns at the
nominal clock of /proc/cpuinfo.

The ratios between configurations are taken round by round (the
configurations of one round ran back to back) and reported as their median
over the rounds, with the lowest and highest round.

Then the action cost (``measure_action_costs``): every bundled action
(actions/*.c), registered with default options on a PMD switch of its own,
runs as ``bpf(NAME),resubmit(,1)``, each round after a stock (a) round;
what it adds to (a)'s PMD cycles per packet, over the program's own run
time (``BPF_PROG_TEST_RUN`` with repeat, in cycles at the nominal clock,
on the same frame, timed right after the round on the PMD thread's core:
``KernelTimer``), round by round, is its cost over its program run. What
each action does to the bench's frame (its verdict, the TTL it leaves)
comes from a kernel run of the program on every flow's frame, and each
round is checked against it. The control (``CONTROL``, an empty program)
is measured alike and shown, out of the median: what any action costs
besides its program.

Whether the datapath recirculates after each action is predicted from its
registration (``recirculates``): ``reclassify=yes`` always, ``no`` never,
``lazy`` when its ``fields`` are ``unknown`` or meet what table 1's lookup
examines (``table1_examines``); the rounds' checks stop the bench when the
datapath does otherwise.

The last line is the summary: that cost's median over the actions, and the
PMD cycles ratios (b)/(a), (c)/(b), (d)/(f) and (g)/(d) (``summary_line``).

Every round checks that it measured what it meant to (see ``check_round``,
``check_pmd_round``, ``check_flows`` and ``check_flow_counts``), every
registration that the switch runs the action as the configuration needs
(``check_registered``), and the benchmark stops with a one-line error
otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from bench.common import MeasurementError, RunOptions, publish
from extframe.errors import OvsError
from extframe.kernel.testrun import Verdict
from extframe.ovs import registry
from extframe.ovs.sandbox import Host, Sandbox
from extframe.ovs.switch import Registered, Switch, parse_bpf_show

if TYPE_CHECKING:
    from extframe.kernel import LoadedProgram

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
#: The action-cost part's control: a program that only returns TC_ACT_OK. What it
#: adds to a packet is what running any action costs besides its program; it is
#: shown beside the bundled actions and left out of their median.
CONTROL = ROOT / "bench" / "nop.c"
PREFIX = "efbench"
ROUNDS = 7
SECONDS = 2.0
FLOWS = 64  # UDP source ports 1000..1063
FRAME_SIZE = 64  # bytes from the Ethernet header, as bench/testrun.py; no FCS on veth
#: The PMD part: packets per round, all given by one ``netdev-dummy/receive
#: --repeat`` call (patch 0016): the port's queue gives copies of the flows' frames
#: in turn, and nothing else runs on the switch while the PMD thread takes them.
PMD_PACKETS = 200_000
#: Packets the PMD thread takes from a dummy port per poll, as a NIC gives a burst
#: (``NETDEV_MAX_BURST``).
PMD_BURST = 32
#: The PMD switch's malloc (``GLIBC_TUNABLES``). netdev-dummy copies each packet with
#: ``malloc()`` and the datapath frees it after output, a burst at a time; glibc's
#: per-thread cache keeps 7 freed chunks of a size, fewer than a burst, and the rest
#: go back to the heap, whose state then made the rounds of one run alternate between
#: two speeds for seconds at a time (stock: about 400 and 550 cycles a packet). With
#: room for every chunk of a burst, the copies come from the thread's cache, as a NIC
#: driver's buffers come from its pool: 24 stock rounds in a row then took 281 to 325.
PMD_GLIBC_TUNABLES = "glibc.malloc.tcache_count=1024"
#: The action-cost part: at most this many rounds (fewer with ``--rounds``), and
#: packets per action and round, on the PMD switch only.
ACTION_ROUNDS = 7
ACTION_PACKETS = 200_000
#: While the veth rounds run, the idle PMD thread sleeps (``pmd-maxsleep``, µs)
#: instead of spinning on the core that trafgen and the other switch share.
PMD_IDLE_SLEEP_US = 10_000
#: No host owns this MAC: h2's interface counts the frames and drops them before
#: IP, so h2 sends nothing back (no ICMP port unreachable) into the pipeline.
SINK_MAC = "02:00:00:00:00:fe"
#: The TTL of every frame sent, and the ones table 1 matches (it forwards both).
TTL_IN = 64
TABLE1_TTLS = (64, 63)


@dataclass(frozen=True)
class Config:
    """One pipeline of the comparison."""

    key: str
    label: str
    action: str | None  # the registered name table 0 runs, if any
    #: Do the datapath flows recirculate after the action? With ``reclassify=lazy``
    #: that depends on table 1 too (``recirculates``).
    reclassified: bool
    #: The TTL table 1 must see; None when table 1 matches any packet
    #: (an action that leaves a TTL table 1 does not match), so none is checked.
    ttl_after: int | None
    #: An OpenFlow action table 0 runs instead of an eBPF one (OVS's own dec_ttl).
    native: str | None = None
    #: The TTL the datapath flows set themselves (``set(ipv4(ttl=N))``), if any.
    ttl_set: int | None = None
    #: What must run the action (bpf/list's runs_on), or None for whatever the
    #: switch picks.
    runs_on: str | None = None
    #: What the action does to every frame of the bench (its verdict).
    outcome: Verdict = "continue"
    #: The ``reclassify=`` the action must be registered with: yes, no or lazy.
    mode: str | None = None
    #: The configuration whose datapath flows this one's must equal in number,
    #: round by round (a lazy writer that never recirculates against a read-only action).
    flows_as: str | None = None

    @property
    def passes(self) -> int:
        """Datapath passes per packet: two when a recirculation follows a packet that went on."""
        return 2 if self.reclassified and self.outcome == "continue" else 1


CONFIGS = [
    Config("a", "stock, no action", None, False, 64),
    Config("b", "read-only, reclassify=no (proved)", "ro", False, 64, mode="no"),
    Config("c", "read-only, forced reclassify=yes", "ro_rc", True, 64, mode="yes"),
    # Table 1 matches nw_ttl, which dec_ttl writes: the lazy switch still recirculates.
    Config(
        "d", "writer (dec_ttl), reclassify=lazy", "ttl", True, 63, runs_on="inproc", mode="lazy"
    ),
]
EXECUTOR_CONFIGS = [
    Config(
        "e",
        "writer (dec_ttl), reclassify=lazy, executor=kernel",
        "ttl_k",
        True,
        63,
        runs_on="kernel",
        mode="lazy",
    ),
    Config("f", "OVS's native dec_ttl, no action", None, False, 63, native="dec_ttl", ttl_set=63),
]
#: What lazy re-classification saves (patch 0015): (d)'s registration before a
#: table 1 that matches any packet, so nothing after dec_ttl observes the TTL.
LAZY_CONFIGS = [
    Config(
        "g",
        "writer (dec_ttl), reclassify=lazy, table 1 matches any packet",
        "ttl",
        False,
        None,
        runs_on="inproc",
        mode="lazy",
        flows_as="b",
    ),
]
#: Every configuration a run measures, in the order of its rounds.
ALL_CONFIGS = CONFIGS + EXECUTOR_CONFIGS + LAZY_CONFIGS

#: What every lookup examines besides the fields its subtables mask: its
#: fragment handling reads nw_frag and dl_type (patch 0015's xlate). Each field
#: under both of OVS's names (ovs-fields(7)), as ``fields=`` may give either.
LOOKUP_READS = frozenset({"dl_type", "eth_type", "nw_frag", "ip_frag"})
#: What table 1's TTL rules (``udp,nw_ttl=T``) mask besides.
TTL_RULES_MASK = frozenset({"nw_ttl", "nw_proto", "ip_proto", "dl_type", "eth_type"})
#: ``fields=unknown``: every field (extframe/ovs/fields.py).
UNKNOWN_FIELDS = "unknown"


def table1_examines(ttl_after: int | None) -> frozenset[str]:
    """The fields a lookup in table 1 examines: its TTL rules' and the lookup's own,
    or only the lookup's own when table 1 matches any packet (``ttl_after`` None)."""
    return LOOKUP_READS | (TTL_RULES_MASK if ttl_after is not None else frozenset())


def recirculates(mode: str, fields: Sequence[str], ttl_after: int | None) -> bool:
    """Whether the datapath recirculates after an action registered with ``mode`` and
    ``fields`` in this bench's pipeline, whose only step after it that may observe a
    field is table 1's lookup (its output to a plain port observes none)."""
    if mode == "yes":
        return True
    if mode == "no":
        return False
    if mode == "lazy":
        return UNKNOWN_FIELDS in fields or bool(set(fields) & table1_examines(ttl_after))
    raise MeasurementError(f"reclassify={mode}: this bench knows only yes, no and lazy")


@dataclass(frozen=True)
class Registration:
    """How the benchmark registers one action."""

    source: Path
    force_reclassify: bool = False
    executor: str = "auto"  # the ``executor`` registration option (extframe/ovs/options.py)


REGISTRATIONS = {
    "ro": Registration(ACTIONS / "port_counter.c"),
    "ro_rc": Registration(ACTIONS / "port_counter.c", force_reclassify=True),
    "ttl": Registration(ACTIONS / "dec_ttl.c"),
    "ttl_k": Registration(ACTIONS / "dec_ttl.c", executor="kernel"),
}


def register_all(sw: Switch, registrations: Mapping[str, Registration]) -> dict[str, Registered]:
    """Register each action on ``sw``; what the switch then lists, by name."""
    for name, reg in registrations.items():
        registry.register(
            sw,
            name,
            reg.source,
            force_reclassify=reg.force_reclassify,
            options={"executor": reg.executor},
        )
    return sw.registered()


def _registration(r: Registered) -> str:
    """``reclassify=lazy fields=nw_ttl``: how the switch lists ``r``."""
    return f"reclassify={r.reclassify_mode}" + (f" fields={','.join(r.fields)}" if r.fields else "")


def check_registered(listed: Mapping[str, Registered], configs: Iterable[Config]) -> None:
    """Raise ``MeasurementError`` unless each configuration's action is registered as it needs:
    with its ``reclassify=`` mode, with fields that make the datapath recirculate
    after it in this configuration's pipeline exactly when it expects (``recirculates``),
    and run by the executor it names."""
    for c in configs:
        if c.action is None:
            continue
        where = f"config ({c.key}) {c.label}"
        r = listed.get(c.action)
        if r is None:
            raise MeasurementError(f"{where}: {c.action} is not registered")
        if c.mode is not None and r.reclassify_mode != c.mode:
            raise MeasurementError(
                f"{where}: {c.action} is registered with {_registration(r)}, "
                f"expected reclassify={c.mode}"
            )
        if recirculates(r.reclassify_mode, r.fields, c.ttl_after) != c.reclassified:
            table1 = "matches any packet" if c.ttl_after is None else "matches udp and nw_ttl"
            raise MeasurementError(
                f"{where}: {c.action} is registered with {_registration(r)}, so the datapath "
                f"would {'' if not c.reclassified else 'not '}recirculate after it where "
                f"table 1 {table1}; this configuration expects it "
                f"{'to' if c.reclassified else 'not to'}"
            )
        if c.runs_on is not None and r.runs_on != c.runs_on:
            why = f" ({r.runs_on_reason})" if r.runs_on_reason else ""
            raise MeasurementError(
                f"{where}: {c.action} runs on {r.runs_on}{why}, expected {c.runs_on}"
            )


def flows(config: Config) -> list[str]:
    """The OpenFlow table of one configuration; table 0's actions differ, and table 1's
    match when the action leaves a TTL it does not forward."""
    if config.action:
        first = f"bpf({config.action}),"
    elif config.native:
        first = f"{config.native},"
    else:
        first = ""
    if config.ttl_after is None:
        table1 = ["table=1,priority=10,actions=output:2"]
    else:
        table1 = [f"table=1,priority=10,udp,nw_ttl={t},actions=output:2" for t in TABLE1_TTLS]
    return [f"table=0,priority=10,udp,in_port=1,actions={first}resubmit(,1)", *table1]


def trafgen_config(src: Host, dst: Host) -> str:
    """trafgen's description of the frames: 64 bytes, source port cycling over ``FLOWS``."""
    fill = FRAME_SIZE - 14 - 20 - 8
    return (
        "{\n"
        f"  eth(da={SINK_MAC}, sa={src.mac}),\n"
        f"  ipv4(sa={src.ip}, da={dst.ip}, ttl={TTL_IN}),\n"
        f"  udp(sp=dinc(1000, {1000 + FLOWS - 1}), dp=9000),\n"
        f"  fill(0x41, {fill})\n"
        "}\n"
    )


@dataclass
class PmdSample:
    """What one round of one configuration measured on the dummy-pmd switch."""

    sent: int  # packets given to netdev-dummy/receive
    pmd_packets: int  # packets the PMD thread received (pmd-stats-show)
    main_packets: int  # packets the main thread received: must be none
    recirculations: int  # the PMD thread's
    busy_cycles: int  # the PMD thread's processing cycles (iterations that received packets)
    median_cycles: float  # a typical packet: the median of pmd-perf-show's cycles/pkt histogram
    histogram_iterations: int  # the busy iterations in that histogram
    action_packets: dict[str, int] = field(default_factory=dict)
    action_errors: dict[str, int] = field(default_factory=dict)  # bpf/show's errors
    action_drops: dict[str, int] = field(default_factory=dict)  # bpf/show's drops
    dp_flows: list[str] = field(default_factory=list)  # at the end of the round
    #: Packets of the PMD thread that no datapath flow took (``miss with success
    #: upcall`` and ``miss with failed upcall``): they went up to ofproto.
    upcalls: int = 0

    @property
    def cycles_per_packet(self) -> float:
        return self.busy_cycles / self.pmd_packets

    @property
    def passes_per_packet(self) -> float:
        return 1 + self.recirculations / self.pmd_packets


@dataclass
class Sample:
    """What one round of one configuration measured (deltas over the round)."""

    config: str
    seconds: float
    offered: int  # frames h1's eth0 sent
    delivered: int  # frames h2's eth0 received
    dp_packets: int  # packets the datapath received (pmd-stats-show)
    recirculations: int
    cpu_ns: int  # ovs-vswitchd's CPU time
    dp_flows: list[str]
    action_packets: dict[str, int] = field(default_factory=dict)
    action_errors: dict[str, int] = field(default_factory=dict)  # bpf/show's errors
    action_run_ns: dict[str, int] = field(default_factory=dict)
    pmd: PmdSample | None = None  # the same configuration's round on the dummy-pmd switch
    action_drops: dict[str, int] = field(default_factory=dict)  # bpf/show's drops
    runs_on: str | None = None  # what ran the configuration's action (bpf/list)

    @property
    def pps(self) -> float:
        return self.delivered / self.seconds

    @property
    def offered_pps(self) -> float:
        return self.offered / self.seconds

    @property
    def cpu_ns_per_packet(self) -> float:
        return self.cpu_ns / self.dp_packets

    @property
    def recirc_per_packet(self) -> float:
        return self.recirculations / self.dp_packets

    @property
    def passes_per_packet(self) -> float:
        return 1 + self.recirc_per_packet


def _near(a: float, b: float, tolerance: float = 0.01) -> bool:
    return abs(a - b) <= max(64, tolerance * max(a, b))


def flow_ttls(flow: str) -> tuple[set[int], set[int]]:
    """The TTLs a ``dpctl/dump-flows`` line matches, and the ones its actions set."""
    match, _, actions = flow.partition("actions:")
    ttl = re.compile(r"\bttl=(\d+)")
    return {int(t) for t in ttl.findall(match)}, {int(t) for t in ttl.findall(actions)}


def check_flows(config: Config, dp_flows: list[str], where: str) -> None:
    """Raise ``MeasurementError`` unless the datapath flows are the ones ``config`` makes:
    the action in them or not, a recirculation after it or not, the TTL table 1 saw."""
    with_bpf = [f for f in dp_flows if "bpf(" in f]
    with_recirc = [f for f in dp_flows if "recirc(" in f]
    if config.action is None and with_bpf:
        raise MeasurementError(f"{where}: a datapath flow runs an action: {with_bpf[0]}")
    if config.action is not None and not with_bpf:
        raise MeasurementError(f"{where}: no datapath flow runs the action: {dp_flows}")
    if config.reclassified and not with_recirc:
        raise MeasurementError(f"{where}: no datapath flow recirculates: {dp_flows}")
    if not config.reclassified and with_recirc:
        raise MeasurementError(f"{where}: a datapath flow recirculates: {with_recirc[0]}")
    # Only OVS's own dec_ttl makes the datapath write the TTL; an eBPF writer does
    # it inside the program, and the datapath only sees the result.
    set_ttls = {t for f in dp_flows for t in flow_ttls(f)[1]}
    if set_ttls != ({config.ttl_set} if config.ttl_set is not None else set()):
        want = f"TTL {config.ttl_set}" if config.ttl_set is not None else "none"
        raise MeasurementError(
            f"{where}: the datapath flows set TTL {sorted(set_ttls)}, expected {want}: {dp_flows}"
        )
    # Table 1 matches the TTL, so its megaflows say which TTL it saw: after the
    # recirculation when there is one, in the first pass otherwise (after the
    # flow's own set action, when it has one).
    second = [f for f in dp_flows if not f.startswith("recirc_id(0)")]
    if config.reclassified and config.outcome != "continue":
        if second:
            raise MeasurementError(
                f"{where}: {config.action} ends every packet ({config.outcome}), yet a "
                f"datapath flow of a second pass exists: {second[0]}"
            )
        return
    if config.ttl_after is None:
        return
    ttls = set()
    for f in second if config.reclassified else dp_flows:
        matched, set_here = flow_ttls(f)
        ttls |= set_here or matched
    if config.ttl_after not in ttls:
        raise MeasurementError(
            f"{where}: table 1 never saw TTL {config.ttl_after} (it saw {sorted(ttls)})"
        )


def check_flow_counts(configs: Iterable[Config], samples: Mapping[str, Sample]) -> None:
    """Raise ``MeasurementError`` unless each configuration with ``flows_as`` ended its
    round with as many datapath flows as that configuration in the same round
    (``samples``: one round, by configuration), on veth and on the PMD switch."""
    for c in configs:
        if c.flows_as is None:
            continue
        mine, theirs = samples.get(c.key), samples.get(c.flows_as)
        if mine is None or theirs is None:
            raise MeasurementError(
                f"config ({c.key}) is checked against ({c.flows_as}): both must run each round"
            )
        pairs = [("", mine.dp_flows, theirs.dp_flows)]
        if mine.pmd is not None and theirs.pmd is not None:
            pairs.append((", PMD switch", mine.pmd.dp_flows, theirs.pmd.dp_flows))
        for where, a, b in pairs:
            if len(a) != len(b):
                raise MeasurementError(
                    f"config ({c.key}) {c.label}{where}: {len(a)} datapath flows, "
                    f"({c.flows_as}) {len(b)} in the same round: {a}"
                )


def check_action_counters(
    config: Config,
    where: str,
    packets: int,
    moved: Mapping[str, int],
    dropped: Mapping[str, int],
    failed: Mapping[str, int],
    exact: bool,
) -> None:
    """Raise ``MeasurementError`` unless ``config``'s action ran once per packet (by
    ``bpf/show``), ended each as its outcome says, and no other action ran.

    ``exact``: the counts must be equal (the PMD switch), not only within 1% (veth,
    where a few packets of the warm-up can still be in flight).
    """

    def same(a: int, b: int) -> bool:
        return a == b if exact else _near(a, b)

    what = "the PMD" if exact else "the datapath"
    if config.action is not None:
        name = config.action
        ran, d, e = moved.get(name, 0), dropped.get(name, 0), failed.get(name, 0)
        if not same(ran, packets):
            raise MeasurementError(
                f"{where}: bpf/show {name} counted {ran} packets, {what} {packets}"
            )
        if config.outcome == "continue" and d + e:
            raise MeasurementError(f"{where}: {name} dropped or failed {d + e} packets")
        if config.outcome == "drop" and (e or not same(d, packets)):
            raise MeasurementError(
                f"{where}: {name} must drop every packet: {d} drops, {e} errors of {ran}"
            )
        if config.outcome == "error" and (d or not same(e, packets)):
            raise MeasurementError(
                f"{where}: {name} must fail on every packet: {e} errors, {d} drops of {ran}"
            )
    for other, ran in moved.items():
        if other != config.action and ran:
            raise MeasurementError(f"{where}: {other}, not in this pipeline, ran {ran} times")


def check_round(config: Config, s: Sample) -> None:
    """Raise ``MeasurementError`` unless ``s`` measured what ``config`` means."""
    where = f"config ({config.key}) {config.label}"
    if s.delivered <= 0 or s.dp_packets <= 0:
        raise MeasurementError(
            f"{where}: no packet went through (offered {s.offered}, datapath {s.dp_packets}, "
            f"delivered {s.delivered})"
        )
    if not _near(s.delivered, s.dp_packets):
        raise MeasurementError(
            f"{where}: the datapath received {s.dp_packets} packets but h2 got {s.delivered}: "
            "packets were lost inside the switch, the rate means nothing"
        )
    check_flows(config, s.dp_flows, where)
    if config.passes == 2:
        if abs(s.passes_per_packet - 2) > 0.05:
            raise MeasurementError(
                f"{where}: {s.passes_per_packet:.2f} datapath passes per packet, expected 2"
            )
    elif s.recirc_per_packet > 0.01:
        raise MeasurementError(
            f"{where}: {s.recirculations} recirculations for {s.dp_packets} packets"
        )
    check_action_counters(
        config, where, s.dp_packets, s.action_packets, s.action_drops, s.action_errors, False
    )


def check_pmd_round(config: Config, s: PmdSample) -> None:
    """Raise ``MeasurementError`` unless the PMD round measured what ``config`` means
    (its datapath flows: ``check_flows``)."""
    where = f"config ({config.key}) {config.label}, PMD switch"
    if s.main_packets:
        raise MeasurementError(
            f"{where}: the main thread received {s.main_packets} packets: dummy-pmd ports "
            "must be polled by a PMD thread only"
        )
    if s.pmd_packets != s.sent:
        raise MeasurementError(
            f"{where}: {s.sent} packets sent but the PMD thread received {s.pmd_packets}"
        )
    if s.busy_cycles <= 0 or s.median_cycles <= 0:
        raise MeasurementError(f"{where}: no PMD cycles counted for {s.pmd_packets} packets")
    if s.upcalls:
        raise MeasurementError(
            f"{where}: {s.upcalls} packets missed the datapath flows set up before the round "
            "and went up to ofproto: the round measured the slow path"
        )
    if not -(-s.pmd_packets // PMD_BURST) <= s.histogram_iterations <= s.pmd_packets:
        raise MeasurementError(
            f"{where}: pmd-perf-show's cycles/pkt histogram holds {s.histogram_iterations} "
            f"iterations for {s.pmd_packets} packets: is pmd-perf-metrics on?"
        )
    if s.pmd_packets >= 10 * PMD_BURST and s.histogram_iterations > s.pmd_packets // 2:
        raise MeasurementError(
            f"{where}: the PMD thread took {s.pmd_packets} packets in "
            f"{s.histogram_iterations} polls, not bursts of up to {PMD_BURST}: this switch's "
            "netdev-dummy has no options:rx_burst; rebuild it with ovs_patches/build.sh"
        )
    if abs(s.passes_per_packet - config.passes) > 0.01:
        raise MeasurementError(
            f"{where}: {s.passes_per_packet:.3f} datapath passes per packet, "
            f"expected {config.passes}"
        )
    check_action_counters(
        config, where, s.pmd_packets, s.action_packets, s.action_drops, s.action_errors, True
    )


# ---------------------------------------------------------------- measuring


def process_cpu_ns(pid: int) -> int:
    """CPU time of every thread of process ``pid`` in ns: the kernel's process CPU clock.

    The clock id of another process is ``make_process_cpuclock(pid,
    CPUCLOCK_SCHED)``, that is ``(~pid << 3) | 2`` (include/linux/posix-timers.h).
    """
    return time.clock_gettime_ns(((~pid) << 3) | 2)


def _counter(host: Host, name: str) -> int:
    done = host.run("cat", f"/sys/class/net/eth0/statistics/{name}")
    if done.returncode != 0:
        raise MeasurementError(f"cannot read {name} of {host.netns}: {done.stderr.strip()}")
    return int(done.stdout)


def pmd_stats(text: str) -> tuple[int, int]:
    """(packets received, recirculations) summed over the threads of ``pmd-stats-show``."""
    received = sum(int(n) for n in re.findall(r"packets received: (\d+)", text))
    recirc = sum(int(n) for n in re.findall(r"packet recirculations: (\d+)", text))
    return received, recirc


def pmd_threads(text: str) -> dict[str, dict[str, int]]:
    """The integer counters of each thread of ``pmd-stats-show``, by the thread's title.

    ``{"main thread": {"packets received": 0, ...}, "pmd thread numa_id 0 core_id 1":
    {"packets received": 50000, "processing cycles": 117312345, ...}}``
    """
    threads: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = threads.setdefault(line.rstrip()[:-1], {})
        elif current is not None and (m := re.match(r"\s+([a-z. ]+): (\d+)(?: \(|$)", line)):
            current[m[1]] = int(m[2])
    return threads


def cycles_histogram(text: str) -> list[tuple[float, int]]:
    """pmd-perf-show's ``cycles/pkt`` histogram: (upper bound, iterations) per bin.

    The third pair of columns under ``Histograms``; each bin holds the
    iterations whose cycles per received packet were above the previous bound
    and at most its own; the last bin (``>``) has no bound (``inf``).
    """
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "Histograms")
    except StopIteration:
        raise MeasurementError("pmd-perf-show has no histograms: pmd-perf-metrics is off") from None
    header = lines[start + 1].split()
    if header[:3] != ["cycles/it", "packets/it", "cycles/pkt"]:
        raise MeasurementError(f"pmd-perf-show: unexpected histogram header {lines[start + 1]!r}")
    out = []
    for line in lines[start + 2 :]:
        cells = line.split()
        if len(cells) < 6 or line.startswith("-"):
            break
        bound = float("inf") if cells[4] == ">" else float(cells[4])
        out.append((bound, int(cells[5])))
    if not out or out[-1][0] != float("inf"):
        raise MeasurementError("pmd-perf-show: the cycles/pkt histogram is cut short")
    return out


def histogram_median(bins: list[tuple[float, int]]) -> float:
    """The median of a histogram, linearly interpolated inside its bin."""
    total = sum(n for _, n in bins)
    if total == 0:
        raise MeasurementError("an empty histogram has no median")
    half, seen, low = total / 2, 0, 0.0
    for bound, n in bins:
        if n and seen + n >= half:
            if bound == float("inf"):
                raise MeasurementError(f"the median is beyond the histogram's last bound {low:g}")
            return low + (bound - low) * (half - seen) / n
        seen += n
        low = bound
    raise AssertionError("unreachable")


def pmd_passes(text: str) -> float | None:
    """pmd-perf-show's ``Datapath passes: N (P passes/pkt)``: P, for the check."""
    m = re.search(r"Datapath passes:\s+\d+\s+\(([\d.]+) passes/pkt\)", text)
    return float(m[1]) if m else None


def ipv4_udp_frame(sport: int) -> bytes:
    """The frame trafgen sends (``trafgen_config``), 64 bytes, from UDP port ``sport``."""
    fill = FRAME_SIZE - 14 - 20 - 8
    frame = (
        Ether(dst=SINK_MAC, src="02:00:00:00:00:01")
        / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=0)
        / UDP(sport=sport, dport=9000, chksum=0)
        / Raw(b"\x41" * fill)
    )
    return bytes(frame)


class Unixctl:
    """A connection to a daemon's unixctl socket: JSON-RPC, as ovs-appctl speaks it.

    One connection for the hundreds of calls of a run: starting ovs-appctl for
    each would take longer than the rounds they read.
    """

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.buffer = ""
        self.decoder = json.JSONDecoder()
        self.next_id = 0

    def close(self) -> None:
        self.sock.close()

    def call(self, method: str, *params: str) -> str:
        self.next_id += 1
        request = {"method": method, "params": list(params), "id": self.next_id}
        self.sock.sendall(json.dumps(request).encode())
        while True:
            with contextlib.suppress(ValueError):
                reply, end = self.decoder.raw_decode(self.buffer)
                self.buffer = self.buffer[end:].lstrip()
                break
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise MeasurementError(f"ovs-vswitchd closed its unixctl socket during {method}")
            self.buffer += chunk.decode()
        if reply.get("error") is not None:
            raise MeasurementError(f"{method}: {str(reply['error']).strip()}")
        return str(reply.get("result") or "")


def parse_dp_flows(text: str) -> list[str]:
    """The flows of ``dpctl/dump-flows``, one a line."""
    lines = text.splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("flow-dump")]


def dp_flows(sw: Switch) -> list[str]:
    return parse_dp_flows(sw.appctl("dpctl/dump-flows"))


def cpu_mhz() -> float | None:
    """The nominal clock of the first CPU (/proc/cpuinfo), to show CPU time as cycles."""
    with contextlib.suppress(OSError):
        m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", Path("/proc/cpuinfo").read_text(), re.M)
        if m:
            return float(m[1])
    return None


class Bench:
    """The sandbox, its actions and the traffic generator of one run."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sw = sandbox.switch
        self.sandbox.start(hosts=2)
        self.h1, self.h2 = sandbox.host("h1"), sandbox.host("h2")
        self.cfg = sandbox.run_dir / "trafgen.cfg"
        self.cfg.write_text(trafgen_config(self.h1, self.h2))
        self.listed = register_all(self.sw, REGISTRATIONS)
        check_registered(self.listed, ALL_CONFIGS)

    def _trafgen(self, *args: str) -> list[str]:
        # -P 1: one sending process, so that the switch keeps the other core;
        # -Q: leave IRQ affinities alone (a shared machine).
        return self.h1.command(
            "trafgen", "-o", "eth0", "-c", str(self.cfg), "-P", "1", "-Q", "-C", *args
        )

    def _send(self, seconds: float) -> float:
        """Send at full speed for ``seconds``; the time trafgen really ran."""
        start = time.monotonic()
        # trafgen forks its sender: signal the whole group, as a terminal's Ctrl-C does.
        proc = subprocess.Popen(
            self._trafgen(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            time.sleep(seconds)
            os.killpg(proc.pid, signal.SIGINT)
            _, err = proc.communicate(timeout=10)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        elapsed = time.monotonic() - start
        if proc.returncode not in (0, -signal.SIGINT):
            raise MeasurementError(f"trafgen failed ({proc.returncode}): {err.strip()[-200:]}")
        return elapsed

    def _pipeline(self, config: Config) -> None:
        table = self.sandbox.run_dir / "flows.txt"
        table.write_text("\n".join(flows(config)) + "\n")
        self.sw.ofctl("replace-flows", "br0", str(table))
        # Stale megaflows of the previous pipeline must not serve this one.
        self.sw.appctl("dpctl/del-flows")
        warm = subprocess.run(
            self._trafgen("-n", str(FLOWS * 8)), capture_output=True, text=True, timeout=30
        )
        if warm.returncode != 0:
            raise MeasurementError(f"trafgen failed: {warm.stderr.strip()[-200:]}")
        time.sleep(0.3)

    def round(self, config: Config, seconds: float) -> Sample:
        """One measurement of ``config``, checked."""
        self._pipeline(config)
        pid = self.sw.pid("ovs-vswitchd")
        if pid is None:
            raise MeasurementError("ovs-vswitchd is not running")
        before = {n: self.sw.counters(n) for n in REGISTRATIONS}
        self.sw.appctl("dpif-netdev/pmd-stats-clear")
        tx0, rx0 = _counter(self.h1, "tx_packets"), _counter(self.h2, "rx_packets")
        cpu0 = process_cpu_ns(pid)
        elapsed = self._send(seconds)
        time.sleep(0.3)  # let the switch drain its socket buffers
        cpu1 = process_cpu_ns(pid)
        tx1, rx1 = _counter(self.h1, "tx_packets"), _counter(self.h2, "rx_packets")
        received, recirc = pmd_stats(self.sw.appctl("dpif-netdev/pmd-stats-show"))
        after = {n: self.sw.counters(n) for n in REGISTRATIONS}

        def delta(name: str, key: str) -> int:
            return after[name].get(key, 0) - before[name].get(key, 0)

        sample = Sample(
            config=config.key,
            seconds=elapsed,
            offered=tx1 - tx0,
            delivered=rx1 - rx0,
            dp_packets=received,
            recirculations=recirc,
            cpu_ns=cpu1 - cpu0,
            dp_flows=dp_flows(self.sw),
            action_packets={n: delta(n, "packets") for n in REGISTRATIONS},
            action_errors={n: delta(n, "errors") for n in REGISTRATIONS},
            action_drops={n: delta(n, "drops") for n in REGISTRATIONS},
            action_run_ns={n: delta(n, "run_time_ns") for n in REGISTRATIONS},
            runs_on=self.listed[config.action].runs_on if config.action else None,
        )
        check_round(config, sample)
        return sample


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """``$name`` with ``value`` added (after a colon to what it held) inside the block."""
    old = os.environ.get(name)
    os.environ[name] = f"{old}:{value}" if old else value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


class PmdBench:
    """A second patched switch whose two ports are ``dummy-pmd``: a PMD thread polls them.

    Packets go in with one ``netdev-dummy/receive --repeat`` call a round, so
    the PMD thread's own cycle counters (TSC) measure the pipeline alone.
    """

    def __init__(
        self, run_dir: Path, registrations: Mapping[str, Registration] = REGISTRATIONS
    ) -> None:
        self.sw = Switch(run_dir)
        self.registrations = dict(registrations)
        self.listed: dict[str, Registered] = {}
        self.ctl: Unixctl | None = None
        self.core = max(0, (os.cpu_count() or 1) - 1)
        # Repeated in turn: every burst of 32 holds 32 flows, and each flow gets its share.
        self.frames = [ipv4_udp_frame(1000 + i).hex() for i in range(FLOWS)]

    def start(self) -> None:
        sw = self.sw
        # =override: br0's internal port is a dummy too (no tap on the host);
        # --disable-system: no kernel datapath. dummy-pmd is there either way.
        with _environ("GLIBC_TUNABLES", PMD_GLIBC_TUNABLES):
            sw.start("--enable-dummy=override", "--disable-system")
        sw.vsctl(
            "set", "Open_vSwitch", ".",
            f"other_config:pmd-cpu-mask={1 << self.core:#x}",
            "other_config:pmd-perf-metrics=true",  # the cycles/pkt histogram, passes/pkt
            f"other_config:pmd-maxsleep={PMD_IDLE_SLEEP_US}",
        )  # fmt: skip
        cmd = ["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
               "fail-mode=secure"]  # fmt: skip
        for n in (1, 2):
            cmd += ["--", "add-port", "br0", f"p{n}", "--", "set", "interface", f"p{n}",
                    "type=dummy-pmd", f"ofport_request={n}",
                    f"options:rx_burst={PMD_BURST}"]  # fmt: skip
        sw.vsctl(*cmd)
        self.listed = register_all(sw, self.registrations)
        pid = sw.pid("ovs-vswitchd")
        if pid is None:
            raise MeasurementError("the PMD switch's ovs-vswitchd is not running")
        self.ctl = Unixctl(sw.run_dir / f"ovs-vswitchd.{pid}.ctl")
        threads = pmd_threads(self.ctl.call("dpif-netdev/pmd-stats-show"))
        if not any(t.startswith("pmd thread") for t in threads):
            raise MeasurementError(f"the PMD switch runs no PMD thread: {sorted(threads)}")

    def stop(self) -> list[str]:
        """Stop the switch and remove its pins; what is left (nothing, normally)."""
        if self.ctl is not None:
            self.ctl.close()
        self.sw.stop()
        shutil.rmtree(self.sw.pin_root, ignore_errors=True)
        left = [d for d in ("ovs-vswitchd", "ovsdb-server") if self.sw.pid(d) is not None]
        return left + ([str(self.sw.pin_root)] if self.sw.pin_root.exists() else [])

    def _pmd_received(self, ctl: Unixctl) -> int:
        text = ctl.call("dpif-netdev/pmd-stats-show", "-pmd", str(self.core))
        return sum(int(n) for n in re.findall(r"packets received: (\d+)", text))

    def clear(self, ctl: Unixctl) -> None:
        """``pmd-stats-clear``, and wait until the PMD thread did it.

        The PMD thread holds its stats mutex while it polls, so the command
        only asks, and the thread clears at its next iteration: after a
        sleep (``pmd-maxsleep``) that can be milliseconds later.
        """
        ctl.call("dpif-netdev/pmd-stats-clear")
        deadline = time.monotonic() + 10
        while (got := self._pmd_received(ctl)) != 0:
            if time.monotonic() > deadline:
                raise MeasurementError(f"pmd-stats-clear: the PMD still counts {got} packets")
            time.sleep(0.001)

    def _settled(self, ctl: Unixctl) -> tuple[dict[str, dict[str, int]], str]:
        """``pmd-stats-show`` by thread and ``pmd-perf-show``, once the PMD thread
        ended the iteration of its last packets.

        The thread counts packets received when it polls them, and adds the
        iteration's cycles/pkt sample when the iteration ends: read between
        the two, the histogram lacks the last iteration. The thread spins
        (``spinning()``), so once two readings a few polls apart show the same
        histogram, its last busy iteration has ended. If it never settles,
        the round's check says so.
        """
        deadline = time.monotonic() + 2
        last = -1
        while True:
            stats = pmd_threads(ctl.call("dpif-netdev/pmd-stats-show"))
            perf = ctl.call("dpif-netdev/pmd-perf-show", "-pmd", str(self.core))
            received = sum(t.get("packets received", 0) for t in stats.values())
            iterations = sum(n for _, n in cycles_histogram(perf))
            # At least one iteration per burst of the packets received, and no
            # new one since the last reading.
            done = iterations == last and iterations >= -(-received // PMD_BURST)
            if done or time.monotonic() > deadline:
                return stats, perf
            last = iterations
            time.sleep(0.002)

    def _inject(self, ctl: Unixctl, packets: int) -> None:
        """Send ``packets`` frames, the flows' in turn, and wait until the PMD thread
        took them.

        One ``netdev-dummy/receive --repeat`` call (patch 0016) gives them all:
        the port's receive queue copies the frames as the PMD thread polls it.
        Feeding them a hundred a call instead (netdev-dummy queues no more) kept
        the main thread parsing, and this process calling, while the PMD thread
        counted its cycles: its rounds differed by a factor of two and more.
        This process only reads the PMD thread's counter, every few milliseconds.
        """
        goal = self._pmd_received(ctl) + packets
        try:
            ctl.call("netdev-dummy/receive", "p1", "--repeat", str(packets), *self.frames)
        except MeasurementError as e:
            raise MeasurementError(
                f"{e}: does this switch's netdev-dummy have --repeat (patch 0016)? "
                "Rebuild it with ovs_patches/build.sh"
            ) from e
        # Far more than a round takes (about 0.1 s a 100,000 packets here).
        deadline = time.monotonic() + 10 + packets / 10_000
        while (got := self._pmd_received(ctl)) < goal:
            if time.monotonic() > deadline:
                ctl.call("netdev-dummy/receive", "p1", "--repeat", "0")
                raise MeasurementError(
                    f"the PMD thread received {got - goal + packets} of {packets} packets "
                    "and no more"
                )
            time.sleep(0.002)
        if got > goal:
            raise MeasurementError(f"the PMD thread received {got - goal} packets more than sent")

    def counters(self, ctl: Unixctl) -> dict[str, dict[str, int]]:
        """Every registered action's ``bpf/show`` counters, by name."""
        return {n: parse_bpf_show(ctl.call("bpf/show", "--json", n)) for n in self.registrations}

    def _off_the_pmd_core(self) -> set[int]:
        """Move every thread of the PMD switch's daemons but the PMD thread off its
        core; the cores they may use now.

        The PMD thread counts cycles with the TSC, so whatever else ran on its
        core during an iteration (the main thread parsing the next frames, this
        process, ovsdb-server) would count as the packets' cost. A host that
        runs PMD threads gives them cores of their own; so does this.
        """
        others = set(range(os.cpu_count() or 1)) - {self.core}
        if not others:
            return set()
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pid = self.sw.pid(daemon)
            tasks = Path(f"/proc/{pid}/task")
            for task in tasks.iterdir() if pid is not None and tasks.is_dir() else []:
                with contextlib.suppress(OSError):  # a thread that just ended
                    if not (task / "comm").read_text().startswith("pmd"):
                        os.sched_setaffinity(int(task.name), others)
        return others

    @contextlib.contextmanager
    def spinning(self) -> Iterator[None]:
        """The PMD thread polls without sleeping (``pmd-maxsleep=0``) inside the block,
        on a core no other thread of the switch, nor this process, runs on."""
        self.sw.vsctl("set", "Open_vSwitch", ".", "other_config:pmd-maxsleep=0")
        mine = os.sched_getaffinity(0)
        try:
            others = self._off_the_pmd_core()
            if others:
                os.sched_setaffinity(0, others)
            yield
        finally:
            os.sched_setaffinity(0, mine)
            self.sw.vsctl(
                "set", "Open_vSwitch", ".", f"other_config:pmd-maxsleep={PMD_IDLE_SLEEP_US}"
            )

    def round(self, config: Config, packets: int, spin: bool = True) -> PmdSample:
        """One measurement of ``config`` on the PMD switch, checked.

        ``spin``: stop the PMD thread's idle sleep for the round; a caller that
        already did (``spinning()``) for a whole series of rounds passes False.
        """
        sw, ctl = self.sw, self.ctl
        assert ctl is not None, "start() first"
        table = sw.run_dir / "flows.txt"
        table.write_text("\n".join(flows(config)) + "\n")
        sw.ofctl("replace-flows", "br0", str(table))
        # Stale megaflows of the previous pipeline must not serve this one. Not
        # dpctl/del-flows: it leaves the revalidators' keys of the flows behind
        # until their next sweep, and a megaflow set up again before that cannot
        # be installed (its key exists), so every packet of it would go up to
        # ofproto. revalidator/purge removes both.
        ctl.call("revalidator/purge")
        with self.spinning() if spin else contextlib.nullcontext():
            self._inject(ctl, FLOWS)  # the megaflows, before the counters start
            time.sleep(0.1)
            before = self.counters(ctl)
            self.clear(ctl)
            self._inject(ctl, packets)
            stats, perf = self._settled(ctl)
        after = self.counters(ctl)

        def delta(name: str, key: str) -> int:
            return after[name].get(key, 0) - before[name].get(key, 0)

        pmd = {t: v for t, v in stats.items() if t.startswith("pmd thread")}
        if len(pmd) != 1:
            raise MeasurementError(f"expected one PMD thread, pmd-stats-show has {sorted(stats)}")
        (counters,) = pmd.values()
        bins = cycles_histogram(perf)
        passes = pmd_passes(perf)
        sample = PmdSample(
            sent=packets,
            pmd_packets=counters.get("packets received", 0),
            main_packets=stats.get("main thread", {}).get("packets received", 0),
            recirculations=counters.get("packet recirculations", 0),
            busy_cycles=counters.get("processing cycles", 0),
            median_cycles=histogram_median(bins),
            histogram_iterations=sum(n for _, n in bins),
            action_packets={n: delta(n, "packets") for n in self.registrations},
            action_errors={n: delta(n, "errors") for n in self.registrations},
            action_drops={n: delta(n, "drops") for n in self.registrations},
            dp_flows=parse_dp_flows(ctl.call("dpctl/dump-flows")),
            upcalls=counters.get("miss with success upcall", 0)
            + counters.get("miss with failed upcall", 0),
        )
        if passes is not None and abs(passes - sample.passes_per_packet) > 0.01:
            raise MeasurementError(
                f"config ({config.key}): pmd-perf-show says {passes} passes/pkt, "
                f"pmd-stats-show {sample.passes_per_packet:.2f}"
            )
        check_pmd_round(config, sample)
        check_flows(config, sample.dp_flows, f"config ({config.key}) {config.label}, PMD switch")
        return sample


@contextlib.contextmanager
def pmd_switch(
    run_dir: Path, registrations: Mapping[str, Registration] = REGISTRATIONS
) -> Iterator[PmdBench]:
    """The PMD switch, started and stopped whatever happens (Ctrl-C included)."""
    pmd = PmdBench(run_dir, registrations)
    try:
        pmd.start()
        yield pmd
    finally:
        left = pmd.stop()
        if left:
            raise MeasurementError(f"the PMD switch left {', '.join(left)}")


@contextlib.contextmanager
def private_sandbox() -> Iterator[Sandbox]:
    """A sandbox of the benchmark's own, stopped whatever happens (Ctrl-C included)."""
    with tempfile.TemporaryDirectory(prefix="efbench-") as tmp:
        sb = Sandbox(Path(tmp) / "sandbox", prefix=PREFIX)
        try:
            yield sb
        finally:
            sb.stop()
            left = sb.leftovers()
            if left:
                raise MeasurementError(f"the benchmark's sandbox left {', '.join(left)}")


def measure(
    sandbox: Sandbox,
    rounds: int = ROUNDS,
    seconds: float = SECONDS,
    pmd_packets: int = PMD_PACKETS,
) -> list[Sample]:
    """``rounds`` rounds of a to g on ``sandbox`` (started here, stopped by the caller),
    then as many on the dummy-pmd switch (``PmdBench``, in ``pmd-switch`` beside the
    sandbox's run directory, stopped here), ``pmd_packets`` packets a round.

    The PMD rounds run after the veth rounds, not between them: trafgen and the
    sandbox's switch then no longer share the machine with the PMD thread, which
    spins through all of its rounds (``spinning()``) after one uncounted round of
    each configuration (the switch's first rounds run slow). The i-th PMD round
    of each configuration goes with its i-th veth round (``Sample.pmd``), and the
    ratios pair the configurations' rounds of the same switch.
    """
    try:
        bench = Bench(sandbox)
    except OvsError as e:
        raise MeasurementError(f"cannot set up the datapath benchmark: {e}") from e
    rounds_done: list[dict[str, Sample]] = []
    for _ in range(rounds):
        this_round = {config.key: bench.round(config, seconds) for config in ALL_CONFIGS}
        check_flow_counts(ALL_CONFIGS, this_round)
        rounds_done.append(this_round)
    with pmd_switch(sandbox.run_dir.parent / "pmd-switch") as pmd:
        check_registered(pmd.listed, ALL_CONFIGS)
        with pmd.spinning():
            for config in ALL_CONFIGS:
                pmd.round(config, max(FLOWS, pmd_packets // 5), spin=False)
            for this_round in rounds_done:
                for config in ALL_CONFIGS:
                    this_round[config.key].pmd = pmd.round(config, pmd_packets, spin=False)
                check_flow_counts(ALL_CONFIGS, this_round)
    return [sample for this_round in rounds_done for sample in this_round.values()]


@dataclass(frozen=True)
class ProgramRun:
    """An action's own run in the kernel on the bench's frames (``BPF_PROG_TEST_RUN``)."""

    ns: float  # its duration per run: the median over rounds of one call with a large repeat
    verdict: Verdict  # what it does to the frame of every flow of the bench
    ttl: int | None  # the TTL of the IPv4 UDP frame it gives back; None if not one such
    source: Path | None = None  # its C source; None: actions/NAME.c


def frame_ttl(frame: bytes) -> int | None:
    """The IPv4 TTL of a UDP frame (behind VLAN tags too); None for any other frame."""
    packet = Ether(frame)
    if IP in packet and UDP in packet:
        return int(packet[IP].ttl)
    return None


def program_run(obj: Path, rounds: int) -> ProgramRun:
    """``obj``'s program on the frames the PMD switch gets, in the kernel.

    Timed as bench/testrun.py times it (one warm-up run, then ``rounds`` calls
    with ``testrun.REPEAT`` runs each, median of the kernel's own average), on
    the first flow's frame; each flow's frame run once says what it does to it.
    """
    from bench import testrun
    from extframe.kernel import LoadOptions, RunInput, load_object, run

    frames = [ipv4_udp_frame(1000 + i) for i in range(FLOWS)]
    with load_object(obj, LoadOptions(log_level=0)) as loaded:
        prog = loaded.program()
        # in_port 1 (cb[0]): the PMD switch's p1, where the frames come in.
        results = [run(prog, RunInput(packet=f, in_port=1)) for f in frames]
        durations = [
            run(prog, RunInput(packet=frames[0], in_port=1, repeat=testrun.REPEAT)).duration_ns
            for _ in range(rounds)
        ]
    verdicts = sorted({r.verdict for r in results})
    if len(verdicts) != 1:
        raise MeasurementError(
            f"{obj.stem}: the bench's flows get different verdicts ({', '.join(verdicts)}), "
            "so its rounds have no one outcome to check"
        )
    ns = statistics.median(durations)
    if ns <= 0:
        raise MeasurementError(f"{obj.stem}: the kernel reported no run time")
    ttls = {frame_ttl(r.packet) for r in results}
    return ProgramRun(ns=ns, verdict=results[0].verdict, ttl=ttls.pop() if len(ttls) == 1 else None)


class KernelTimer:
    """Programs loaded in the kernel, each timed on demand on a given core.

    The action-cost part times each action's program right after each of its
    rounds, on the PMD thread's core: a host that slows a core down for a
    while (a busy sibling thread, the hypervisor) then slows both figures of
    the ratio alike. ``BPF_PROG_TEST_RUN`` counts only the time its loop runs
    (``bpf_test_timer_leave()`` before it yields the CPU), so the PMD thread
    that spins on that core does not enter the figure.
    """

    def __init__(self, sources: Mapping[str, Path]) -> None:
        self.sources = dict(sources)
        self.frame = ipv4_udp_frame(1000)
        self._stack = contextlib.ExitStack()
        self.progs: dict[str, LoadedProgram] = {}

    def __enter__(self) -> KernelTimer:
        from extframe.build import build
        from extframe.kernel import LoadOptions, load_object

        tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            for name, src in self.sources.items():
                obj = build(src, tmp / f"{name}.o")
                loaded = self._stack.enter_context(load_object(obj, LoadOptions(log_level=0)))
                self.progs[name] = loaded.program()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def ns(self, name: str, core: int) -> float:
        """One call with ``testrun.REPEAT`` runs of ``name``'s program on the first
        flow's frame, on ``core``: the kernel's average per run, in ns."""
        from bench import testrun
        from extframe.kernel import RunInput, run

        mine = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {core})
        try:
            result = run(
                self.progs[name], RunInput(packet=self.frame, in_port=1, repeat=testrun.REPEAT)
            )
        finally:
            os.sched_setaffinity(0, mine)
        if result.duration_ns <= 0:
            raise MeasurementError(f"{name}: the kernel reported no run time")
        return float(result.duration_ns)


def program_runs(sources: Iterable[Path]) -> dict[str, ProgramRun]:
    """``program_run`` of each source, built here, by the source's stem."""
    from bench import testrun
    from extframe.build import build

    with tempfile.TemporaryDirectory() as tmp:
        return {
            src.stem: replace(
                program_run(build(src, Path(tmp) / f"{src.stem}.o"), testrun.ROUNDS), source=src
            )
            for src in sources
        }


def action_config(name: str, registered: Registered, run: ProgramRun) -> Config:
    """The configuration that runs the action registered as ``name`` alone
    (``bpf(NAME),resubmit(,1)``), expecting what its kernel run did to the frame
    and a recirculation after it where its registration predicts one
    (``recirculates``): ``check_flows`` stops the bench when the datapath does otherwise.

    Table 1 keeps its two TTL rules when the action leaves a TTL they match;
    otherwise it forwards any packet and no TTL is checked.
    """
    ttl = run.ttl if run.ttl in TABLE1_TTLS else None
    mode = registered.reclassify_mode
    recirc = recirculates(mode, registered.fields, ttl)
    return Config(name, f"bpf({name})", name, recirc, ttl, outcome=run.verdict, mode=mode)


@dataclass(frozen=True)
class ActionCost:
    """One bundled action in the action-cost part."""

    config: Config
    runs_on: str  # what the switch chose to run it (bpf/list)
    prog_ns: float  # ProgramRun.ns
    cycles: tuple[float, ...]  # its PMD cycles/pkt, round by round
    stock: tuple[float, ...]  # (a)'s PMD cycles/pkt, each measured just before
    typical: tuple[float, ...] = ()  # the same for a typical packet (the histogram's median)
    stock_typical: tuple[float, ...] = ()
    fields: tuple[str, ...] = ()  # the fields= the switch holds (bpf/list)
    #: The program's own run time (ns), timed right after each round on the PMD
    #: thread's core (``KernelTimer``); empty: ``prog_ns`` stands for every round.
    prog_rounds: tuple[float, ...] = ()

    @property
    def added(self) -> list[float]:
        """PMD cycles per packet over the (a) just before, round by round."""
        return _differences(self.config, self.cycles, self.stock)

    @property
    def added_typical(self) -> list[float]:
        return _differences(self.config, self.typical, self.stock_typical)

    def prog_cycles(self, mhz: float) -> float:
        return self.prog_ns * mhz / 1000

    def over_program_run(self, mhz: float) -> float:
        """The added PMD cycles per packet over the program's own run time in cycles:
        round by round when the program was timed with each round (the median of
        those ratios), otherwise the median added over ``prog_ns``."""
        if not self.prog_rounds:
            return statistics.median(self.added) / self.prog_cycles(mhz)
        if len(self.prog_rounds) != len(self.added):
            raise MeasurementError(
                f"{self.config.action}: {len(self.prog_rounds)} program runs against "
                f"{len(self.added)} rounds"
            )
        return statistics.median(
            a / (ns * mhz / 1000) for a, ns in zip(self.added, self.prog_rounds, strict=True)
        )

    @property
    def control(self) -> bool:
        """Is this the control (``CONTROL``), not a bundled action?"""
        return self.config.key == CONTROL.stem


def _differences(c: Config, mine: Sequence[float], stock: Sequence[float]) -> list[float]:
    if len(mine) != len(stock) or not mine:
        raise MeasurementError(f"{c.action}: {len(mine)} rounds against {len(stock)} of (a)")
    return [m - s for m, s in zip(mine, stock, strict=True)]


def measure_action_costs(
    run_dir: Path, runs: Mapping[str, ProgramRun], rounds: int, packets: int
) -> list[ActionCost]:
    """Each action of ``runs`` (its ``source``, or actions/NAME.c, registered as NAME
    with default options) on a PMD switch of its own in ``run_dir``, ``packets``
    packets a round, every round checked.

    One uncounted round of each first (the switch's first rounds run slow),
    then ``rounds`` times every action, each right after a stock (a) round,
    and its program timed in the kernel right after it (``KernelTimer``): its
    cost is taken against that (a) and that run, so that all three saw the
    same moment of the machine.
    """
    registrations = {
        name: Registration(run.source or ACTIONS / f"{name}.c") for name, run in runs.items()
    }
    stock = CONFIGS[0]
    with (
        pmd_switch(run_dir, registrations) as pmd,
        KernelTimer({n: r.source for n, r in registrations.items()}) as timer,
    ):
        configs = [action_config(n, pmd.listed[n], runs[n]) for n in registrations]
        pairs: dict[str, list[tuple[PmdSample, PmdSample]]] = {c.key: [] for c in configs}
        prog: dict[str, list[float]] = {c.key: [] for c in configs}
        with pmd.spinning():
            for config in [stock, *configs]:
                pmd.round(config, max(FLOWS, packets // 5), spin=False)
            for _ in range(rounds):
                for config in configs:
                    base = pmd.round(stock, packets, spin=False)
                    pairs[config.key].append((pmd.round(config, packets, spin=False), base))
                    prog[config.key].append(timer.ns(config.key, pmd.core))
        return [
            ActionCost(
                config=c,
                runs_on=pmd.listed[c.key].runs_on,
                prog_ns=statistics.median(prog[c.key]),
                cycles=tuple(s.cycles_per_packet for s, _ in pairs[c.key]),
                stock=tuple(b.cycles_per_packet for _, b in pairs[c.key]),
                typical=tuple(s.median_cycles for s, _ in pairs[c.key]),
                stock_typical=tuple(b.median_cycles for _, b in pairs[c.key]),
                fields=tuple(pmd.listed[c.key].fields),
                prog_rounds=tuple(prog[c.key]),
            )
            for c in configs
        ]


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Spread:
    """A figure over rounds: its median, lowest and highest round."""

    median: float
    low: float
    high: float


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise MeasurementError("no round to take a median of")
    return Spread(statistics.median(values), min(values), max(values))


def per_round_ratio(num: Sequence[float], den: Sequence[float]) -> Spread:
    """Two configurations' figures divided round by round (the i-th round of each,
    which ran back to back): the median ratio, and the lowest and highest."""
    if len(num) != len(den):
        raise MeasurementError(f"{len(num)} rounds against {len(den)}: a ratio pairs rounds")
    return spread([n / d for n, d in zip(num, den, strict=True)])


@dataclass(frozen=True)
class Summary:
    """Medians over the rounds of one configuration."""

    config: Config
    pps: float
    offered_pps: float
    cpu_ns: float
    cpu_ns_range: tuple[float, float]  # the lowest and highest round: how noisy it was
    dp_flows: float
    recirc: float
    passes: float
    action_call_ns: float | None  # bpf/show: the executor's run time per call
    pmd: PmdSummary | None = None  # None if the rounds had no PMD part
    #: Each round's own figure, in the order the rounds ran: the ratios pair them.
    cpu_ns_rounds: tuple[float, ...] = ()
    pps_rounds: tuple[float, ...] = ()
    runs_on: str | None = None  # what ran the action (bpf/list)


@dataclass(frozen=True)
class PmdSummary:
    """Medians over the PMD rounds of one configuration."""

    cycles: float  # processing cycles per packet
    cycles_range: tuple[float, float]
    median: float  # the cycles/pkt histogram's median
    median_range: tuple[float, float]
    passes: float
    cycles_rounds: tuple[float, ...] = ()  # each round's, in order
    median_rounds: tuple[float, ...] = ()


def summarize_pmd(samples: list[PmdSample]) -> PmdSummary:
    return PmdSummary(
        cycles=statistics.median(s.cycles_per_packet for s in samples),
        cycles_range=(
            min(s.cycles_per_packet for s in samples),
            max(s.cycles_per_packet for s in samples),
        ),
        median=statistics.median(s.median_cycles for s in samples),
        median_range=(min(s.median_cycles for s in samples), max(s.median_cycles for s in samples)),
        passes=statistics.median(s.passes_per_packet for s in samples),
        cycles_rounds=tuple(s.cycles_per_packet for s in samples),
        median_rounds=tuple(s.median_cycles for s in samples),
    )


def summarize(samples: list[Sample], configs: Sequence[Config] = CONFIGS) -> list[Summary]:
    """One summary per configuration of ``configs``, each of which must have been measured."""
    out = []
    for config in configs:
        mine = [s for s in samples if s.config == config.key]
        if not mine:
            raise MeasurementError(f"config ({config.key}) was never measured")
        call = None
        if config.action:
            call = statistics.median(
                s.action_run_ns[config.action] / s.action_packets[config.action] for s in mine
            )
        out.append(
            Summary(
                config=config,
                pps=statistics.median(s.pps for s in mine),
                offered_pps=statistics.median(s.offered_pps for s in mine),
                cpu_ns=statistics.median(s.cpu_ns_per_packet for s in mine),
                cpu_ns_range=(
                    min(s.cpu_ns_per_packet for s in mine),
                    max(s.cpu_ns_per_packet for s in mine),
                ),
                dp_flows=statistics.median(len(s.dp_flows) for s in mine),
                recirc=statistics.median(s.recirc_per_packet for s in mine),
                passes=statistics.median(s.passes_per_packet for s in mine),
                action_call_ns=call,
                pmd=summarize_pmd(pmds) if (pmds := [s.pmd for s in mine if s.pmd]) else None,
                cpu_ns_rounds=tuple(s.cpu_ns_per_packet for s in mine),
                pps_rounds=tuple(s.pps for s in mine),
                runs_on=next((s.runs_on for s in mine if s.runs_on), None),
            )
        )
    return out


#: The ratios the tables show: (numerator, denominator, what it compares); a pair
#: whose configurations were not both measured is left out.
RATIOS = [
    ("c", "b", "forced re-classification against the proof"),
    ("b", "a", "a read-only action against none"),
    ("d", "a", "a re-classified writer against none"),
    ("e", "d", "dec_ttl by BPF_PROG_TEST_RUN against in-process"),
    ("d", "f", "dec_ttl as an in-process eBPF action against OVS's native dec_ttl"),
    ("f", "a", "OVS's native dec_ttl against none"),
    ("g", "d", "lazy dec_ttl, no later table reads the TTL, against re-classified dec_ttl"),
    ("g", "b", "lazy dec_ttl, no later table reads the TTL, against a read-only action"),
]


def table(
    summaries: list[Summary],
    rounds: int,
    seconds: float,
    prog_ns: dict[str, float],
    mhz: float | None,
    pmd_packets: int = PMD_PACKETS,
) -> list[str]:
    """The markdown tables: per configuration (veth, then PMD), the ratios, the action's cost."""
    by = {s.config.key: s for s in summaries}
    cycles = f"≈cycles/pkt (× {mhz:.0f} MHz)" if mhz else "≈cycles/pkt (no CPU clock known)"
    lines = [
        f"Datapath: 64-byte UDP frames over {FLOWS} flows through a two-table pipeline, "
        f"median of {rounds} interleaved rounds of {seconds:g} s",
        "",
        f"| config | pipeline | delivered kpps | offered kpps | OVS CPU ns/pkt | (lowest–highest "
        f"round) | {cycles} "
        "| datapath flows | recirc/pkt | passes/pkt |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        cyc = f"{s.cpu_ns * mhz / 1000:.0f}" if mhz else "-"
        lines.append(
            f"| ({s.config.key}) | {s.config.label} | {s.pps / 1000:.1f} "
            f"| {s.offered_pps / 1000:.1f} | {s.cpu_ns:.0f} "
            f"| {s.cpu_ns_range[0]:.0f}–{s.cpu_ns_range[1]:.0f} | {cyc} | {s.dp_flows:g} "
            f"| {s.recirc:.2f} | {s.passes:.2f} |"
        )
    pmds = {s.config.key: s.pmd for s in summaries if s.pmd is not None}
    if len(pmds) != len(summaries):
        pmds = {}  # rounds without the PMD part: the veth tables only
    else:
        lines += ["", *pmd_table(summaries, pmds, rounds, pmd_packets, mhz)]
    pmd_head = " PMD cycles/pkt | PMD typical packet |" if pmds else ""
    lines += [
        "",
        "Ratios, round by round (the configurations of a round ran back to back): the median "
        f"over the {rounds} rounds, then the lowest and highest round",
        "",
        f"| ratio | OVS CPU ns/pkt | delivered pps |{pmd_head} lowest–highest: OVS CPU "
        "| delivered pps |" + (" PMD cycles/pkt | PMD typical packet |" if pmds else ""),
        "|---|---:|---:|---:|---:|" + ("---:|---:|---:|---:|" if pmds else ""),
    ]
    for num, den, what in RATIOS:
        if num not in by or den not in by:
            continue
        n, d = by[num], by[den]
        columns = [
            per_round_ratio(n.cpu_ns_rounds, d.cpu_ns_rounds),
            per_round_ratio(n.pps_rounds, d.pps_rounds),
        ]
        if pmds:
            columns += [
                per_round_ratio(pmds[num].cycles_rounds, pmds[den].cycles_rounds),
                per_round_ratio(pmds[num].median_rounds, pmds[den].median_rounds),
            ]
        medians = "".join(f" {r.median:.2f}x |" for r in columns)
        ranges = "".join(f" {r.low:.2f}–{r.high:.2f} |" for r in columns)
        lines.append(f"| ({num})/({den}): {what} |{medians}{ranges}")
    lines += [
        "",
        "| config | action | prog_ns (BPF_PROG_TEST_RUN, repeat) | call_ns in OVS (bpf/show) "
        "| added OVS CPU ns/pkt vs (a) | added ns/pkt from pps vs (a) |"
        + (" added PMD cycles/pkt vs (a) |" if pmds else "")
        + " runs on |",
        "|---|---|---:|---:|---:|---:|" + ("---:|" if pmds else "") + "---|",
    ]
    base = by["a"]
    for s in summaries:
        if s.config.action is not None:
            action = REGISTRATIONS[s.config.action].source.stem
            prog, call = f"{prog_ns[action]:.0f}", f"{s.action_call_ns:.0f}"
            runs_on = s.runs_on or "-"
        elif s.config.native is not None:
            action, prog, call = f"OVS's {s.config.native} (native)", "-", "-"
            runs_on = "OVS's translation"
        else:
            continue
        lines.append(
            f"| ({s.config.key}) | {action} | {prog} | {call} "
            f"| {s.cpu_ns - base.cpu_ns:.0f} | {1e9 / s.pps - 1e9 / base.pps:.0f} |"
            + (f" {pmds[s.config.key].cycles - pmds['a'].cycles:.0f} |" if pmds else "")
            + f" {runs_on} |"
        )
    return lines


def pmd_table(
    summaries: list[Summary],
    pmds: dict[str, PmdSummary],
    rounds: int,
    packets: int,
    mhz: float | None,
) -> list[str]:
    """The PMD switch's table: cycles per packet by the PMD thread's own TSC counters."""
    ns = f"≈ns/pkt (÷ {mhz:.0f} MHz TSC)" if mhz else "≈ns/pkt (no TSC rate known)"

    def to_ns(cycles: float) -> str:
        return f"{cycles * 1000 / mhz:.0f}" if mhz else "-"

    lines = [
        f"PMD cycles: the same pipelines on a switch whose ports are dummy-pmd (polled by one "
        f"PMD thread), {packets} packets a round, given by netdev-dummy/receive --repeat, "
        f"median of {rounds} rounds of a to g after the ones above (one uncounted first)",
        "",
        f"| config | pipeline | PMD cycles/pkt | (lowest–highest round) | {ns} "
        f"| typical packet, cycles | (lowest–highest round) | {ns} | passes/pkt |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        p = pmds[s.config.key]
        lines.append(
            f"| ({s.config.key}) | {s.config.label} | {p.cycles:.0f} "
            f"| {p.cycles_range[0]:.0f}–{p.cycles_range[1]:.0f} | {to_ns(p.cycles)} "
            f"| {p.median:.0f} | {p.median_range[0]:.0f}–{p.median_range[1]:.0f} "
            f"| {to_ns(p.median)} | {p.passes:.2f} |"
        )
    return lines


def _outcome(c: Config) -> str:
    """What an action does to the bench's frame, in a few words."""
    if c.outcome != "continue":
        return c.outcome
    return f"continue, TTL {c.ttl_after}" if c.ttl_after is not None else "continue"


def median_action_cost(costs: Sequence[ActionCost], mhz: float) -> float:
    """action_cost_over_program_run: the median over the actions, the control
    (``CONTROL``) left out."""
    actions = [c for c in costs if not c.control]
    if not actions:
        raise MeasurementError("no action was measured for the action cost")
    return statistics.median(c.over_program_run(mhz) for c in actions)


def action_cost_table(
    costs: Sequence[ActionCost], mhz: float, rounds: int, packets: int, repeat: int
) -> list[str]:
    """The action-cost part's table: what each bundled action adds to (a) on the PMD
    switch, over its program's own run time; the median over the actions."""
    lines = [
        "Action cost over program run: each bundled action alone, bpf(NAME),resubmit(,1), "
        "registered with default options (the switch picks the executor) on a PMD switch of "
        f"its own, {packets} packets a round, median of {rounds} rounds, each right after a "
        f"stock (a) round; prog_ns: BPF_PROG_TEST_RUN with repeat {repeat} on the first "
        "flow's frame, on the PMD thread's core right after each round (added / prog is the "
        f"median of the rounds' own ratios); cycles at {mhz:.0f} MHz",
        "",
    ]
    if costs:
        stock = spread([s for c in costs for s in c.stock])
        lines += [
            f"(a) stock in these rounds: {stock.median:.0f} PMD cycles/pkt "
            f"(lowest–highest round {stock.low:.0f}–{stock.high:.0f})",
            "",
        ]
    lines += [
        "| action | runs on | reclassify | on the bench's frame | table 1 matches "
        "| recirculates (predicted, checked) | prog_ns "
        "| ≈prog cycles | PMD cycles/pkt | (lowest–highest round) | added vs (a), cycles/pkt "
        "| (lowest–highest round) | added, typical packet | added / prog |",
        "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    actions = [c for c in costs if not c.control]
    for c in [*actions, *(c for c in costs if c.control)]:
        cyc, added = spread(c.cycles), spread(c.added)
        typical = f"{statistics.median(c.added_typical):.0f}" if c.typical else "-"
        table1 = "udp, nw_ttl=64 or 63" if c.config.ttl_after is not None else "any packet"
        mode = c.config.mode or "-"
        reclassify = f"{mode} ({','.join(c.fields)})" if c.fields else mode
        name = f"{c.config.action} (control: an empty program)" if c.control else c.config.action
        lines.append(
            f"| {name} | {c.runs_on} | {reclassify} | {_outcome(c.config)} "
            f"| {table1} | {'yes' if c.config.reclassified else 'no'} "
            f"| {c.prog_ns:.0f} | {c.prog_cycles(mhz):.0f} "
            f"| {cyc.median:.0f} | {cyc.low:.0f}–{cyc.high:.0f} | {added.median:.0f} "
            f"| {added.low:.0f}–{added.high:.0f} | {typical} | {c.over_program_run(mhz):.1f}x |"
        )
    by_executor = []
    for where in sorted({c.runs_on for c in actions}):
        mine = [c for c in actions if c.runs_on == where]
        by_executor.append(f"{where}: {median_action_cost(mine, mhz):.2f}x over {len(mine)}")
    lines += [
        "",
        f"action_cost_over_program_run, the median over the {len(actions)} actions: "
        f"{median_action_cost(actions, mhz):.2f}x ({'; '.join(by_executor)})",
    ]
    for c in costs:
        if c.control:
            lines.append(
                f"{c.config.action}, the control, adds {statistics.median(c.added):.0f} cycles "
                "a packet: what running any action costs besides its program "
                "(not in the median)"
            )
    return lines


#: The summary line's figures, in its order.
SUMMARY = (
    "action_cost_over_program_run",
    "readonly_over_stock_cycles",
    "forced_over_readonly_cycles",
    "bpf_dec_ttl_over_native_dec_ttl",
    "lazy_dec_ttl_over_reclassified_cycles",
)


def summary_figures(summaries: list[Summary], action_cost: float) -> dict[str, float]:
    """The summary's figures: ``action_cost`` (``median_action_cost``) and the PMD
    cycles/pkt ratios (b)/(a), (c)/(b), (d)/(f) and (g)/(d), each the median of its
    per-round ratios."""
    pmd = {s.config.key: s.pmd for s in summaries if s.pmd is not None}

    def ratio(num: str, den: str) -> float:
        if num not in pmd or den not in pmd:
            raise MeasurementError(f"the summary needs the PMD rounds of ({num}) and ({den})")
        return per_round_ratio(pmd[num].cycles_rounds, pmd[den].cycles_rounds).median

    return {
        "action_cost_over_program_run": action_cost,
        "readonly_over_stock_cycles": ratio("b", "a"),
        "forced_over_readonly_cycles": ratio("c", "b"),
        "bpf_dec_ttl_over_native_dec_ttl": ratio("d", "f"),
        "lazy_dec_ttl_over_reclassified_cycles": ratio("g", "d"),
    }


def summary_line(figures: Mapping[str, float]) -> str:
    """``summary: key=x ...``, each figure of ``SUMMARY`` with 2 decimals, in that order."""
    missing = [k for k in SUMMARY if k not in figures]
    if missing:
        raise MeasurementError(f"the summary has no {', '.join(missing)}")
    return "summary: " + " ".join(f"{k}={figures[k]:.2f}" for k in SUMMARY)


def main(options: RunOptions) -> int:
    from bench import testrun

    rounds = options.rounds or ROUNDS
    seconds = options.seconds or SECONDS
    action_rounds = min(rounds, ACTION_ROUNDS)
    mhz = cpu_mhz()
    if mhz is None:
        raise MeasurementError(
            "/proc/cpuinfo gives no CPU clock: the programs' run times cannot be put in cycles"
        )
    runs = program_runs([*sorted(ACTIONS.glob("*.c")), CONTROL])
    with private_sandbox() as sb:
        samples = measure(sb, rounds, seconds, PMD_PACKETS)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-") as tmp:
        costs = measure_action_costs(Path(tmp) / "pmd-switch", runs, action_rounds, ACTION_PACKETS)
    summaries = summarize(samples, ALL_CONFIGS)
    lines = table(summaries, rounds, seconds, {n: r.ns for n, r in runs.items()}, mhz)
    lines += [
        "",
        *action_cost_table(costs, mhz, action_rounds, ACTION_PACKETS, testrun.REPEAT),
        "",
        summary_line(summary_figures(summaries, median_action_cost(costs, mhz))),
    ]
    publish("datapath", lines)
    return 0
