"""What an action costs inside the patched OVS userspace datapath, with and without the proof.

A private sandbox (its own run directory and namespaces ``efbench-*``) runs
a two-table pipeline on ``br0`` (``datapath_type=netdev``). Host h1 sends
64-byte UDP frames over 64 flows (source ports 1000 to 1063) with
``trafgen`` at full speed for a fixed time; table 0 takes them from port 1,
table 1 sends them to port 2 (host h2). Four configurations, interleaved in
rounds a, b, c, d, a, b, c, d, ...:

- (a) stock: ``resubmit(,1)`` and no action;
- (b) ``bpf(ro)``: actions/port_counter.c, proved read-only, ``reclassify=no``;
- (c) ``bpf(ro_rc)``: the same program forced to ``reclassify=yes``
  (``register --reclassify yes``): what a switch without the analysis does;
- (d) ``bpf(ttl)``: actions/dec_ttl.c, a writer, re-classified by its proof.

Table 1 forwards TTL 64 and TTL 63 alike, so the megaflow records which TTL
the second lookup saw: after (d), 63.

Per round: delivered packets per second (h2's ``eth0`` receive counter over
the sending time), the datapath's own packet and recirculation counters
(``dpif-netdev/pmd-stats-show``), the CPU time ovs-vswitchd spent per
datapath packet, the datapath flows at the end of the round and the
action's ``bpf/show`` counters. Why CPU time and not PMD cycles: veth ports
are ``system`` netdevs, which are not PMD netdevs (``is_pmd = false`` in
lib/netdev-linux.c), so the main thread polls them in ``dpif_netdev_run()``;
``pmd-perf-show`` prints nothing for the main thread
(``pmd_info_show_perf()`` skips ``NON_PMD_CORE_ID``) and ``pmd-stats-show``
shows its packets and recirculations but no cycles, because the cycle
counters (``PMD_CYCLES_ITER_BUSY``/``IDLE``) are only added by
``pmd_perf_end_iteration()`` in ``pmd_thread_main()``. The one Linux netdev
that is a PMD netdev, ``afxdp``, is not in this build (no libxdp), and this
VM has no hardware cycle counter (``perf stat -e cycles``: not supported).
So the cost is ovs-vswitchd's CPU time from the kernel's process CPU clock
(``CPUCLOCK_SCHED``, nanoseconds), per packet the datapath received; it is
also shown as cycles at the CPU's nominal clock from /proc/cpuinfo.

Every round checks that it measured what it meant to (see ``check_round``)
and the benchmark stops with a one-line error otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import MeasurementError, RunOptions, publish
from extframe.errors import OvsError
from extframe.ovs import registry
from extframe.ovs.sandbox import Host, Sandbox
from extframe.ovs.switch import Switch

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
PREFIX = "efbench"
ROUNDS = 7
SECONDS = 2.0
FLOWS = 64  # UDP source ports 1000..1063
FRAME_SIZE = 64  # bytes from the Ethernet header, as bench/testrun.py; no FCS on veth
#: No host owns this MAC: h2's interface counts the frames and drops them before
#: IP, so h2 sends nothing back (no ICMP port unreachable) into the pipeline.
SINK_MAC = "02:00:00:00:00:fe"


@dataclass(frozen=True)
class Config:
    """One pipeline of the comparison."""

    key: str
    label: str
    action: str | None  # the registered name table 0 runs, if any
    reclassified: bool  # must the datapath recirculate after it?
    ttl_after: int  # the TTL table 1 must see


CONFIGS = [
    Config("a", "stock, no action", None, False, 64),
    Config("b", "read-only, reclassify=no (proved)", "ro", False, 64),
    Config("c", "read-only, forced reclassify=yes", "ro_rc", True, 64),
    Config("d", "writer (dec_ttl), reclassify=yes", "ttl", True, 63),
]

#: name -> (source, force_reclassify)
REGISTRATIONS = {
    "ro": (ACTIONS / "port_counter.c", False),
    "ro_rc": (ACTIONS / "port_counter.c", True),
    "ttl": (ACTIONS / "dec_ttl.c", False),
}


def flows(config: Config) -> list[str]:
    """The OpenFlow table of one configuration; only table 0's actions differ."""
    first = f"bpf({config.action})," if config.action else ""
    return [
        f"table=0,priority=10,udp,in_port=1,actions={first}resubmit(,1)",
        "table=1,priority=10,udp,nw_ttl=64,actions=output:2",
        "table=1,priority=10,udp,nw_ttl=63,actions=output:2",
    ]


def trafgen_config(src: Host, dst: Host) -> str:
    """trafgen's description of the frames: 64 bytes, source port cycling over ``FLOWS``."""
    fill = FRAME_SIZE - 14 - 20 - 8
    return (
        "{\n"
        f"  eth(da={SINK_MAC}, sa={src.mac}),\n"
        f"  ipv4(sa={src.ip}, da={dst.ip}, ttl=64),\n"
        f"  udp(sp=dinc(1000, {1000 + FLOWS - 1}), dp=9000),\n"
        f"  fill(0x41, {fill})\n"
        "}\n"
    )


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
    action_errors: dict[str, int] = field(default_factory=dict)
    action_run_ns: dict[str, int] = field(default_factory=dict)

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
    with_bpf = [f for f in s.dp_flows if "bpf(" in f]
    with_recirc = [f for f in s.dp_flows if "recirc(" in f]
    if config.action is None and with_bpf:
        raise MeasurementError(f"{where}: a datapath flow runs an action: {with_bpf[0]}")
    if config.action is not None and not with_bpf:
        raise MeasurementError(f"{where}: no datapath flow runs the action: {s.dp_flows}")
    if config.reclassified:
        if not with_recirc:
            raise MeasurementError(f"{where}: no datapath flow recirculates: {s.dp_flows}")
        if abs(s.passes_per_packet - 2) > 0.05:
            raise MeasurementError(
                f"{where}: {s.passes_per_packet:.2f} datapath passes per packet, expected 2"
            )
    else:
        if with_recirc:
            raise MeasurementError(f"{where}: a datapath flow recirculates: {with_recirc[0]}")
        if s.recirc_per_packet > 0.01:
            raise MeasurementError(
                f"{where}: {s.recirculations} recirculations for {s.dp_packets} packets"
            )
    # Table 1 matches the TTL, so its megaflows say which TTL it saw: after the
    # recirculation when there is one, in the first pass otherwise.
    second = [f for f in s.dp_flows if not f.startswith("recirc_id(0)")]
    ttls = {
        int(t)
        for f in (second if config.reclassified else s.dp_flows)
        for t in re.findall(r"\bttl=(\d+)", f)
    }
    if config.ttl_after not in ttls:
        raise MeasurementError(
            f"{where}: table 1 never saw TTL {config.ttl_after} (it saw {sorted(ttls)})"
        )
    for name in REGISTRATIONS:
        moved = s.action_packets.get(name, 0)
        if name == config.action:
            if not _near(moved, s.dp_packets):
                raise MeasurementError(
                    f"{where}: bpf/show {name} counted {moved} packets, the datapath {s.dp_packets}"
                )
            if s.action_errors.get(name, 0):
                raise MeasurementError(
                    f"{where}: {name} dropped or failed {s.action_errors[name]} packets"
                )
        elif moved:
            raise MeasurementError(f"{where}: {name}, not in this pipeline, ran {moved} times")


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


def dp_flows(sw: Switch) -> list[str]:
    lines = sw.appctl("dpctl/dump-flows").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("flow-dump")]


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
        for name, (source, forced) in REGISTRATIONS.items():
            registry.register(self.sw, name, source, force_reclassify=forced)
        listed = self.sw.registered()
        want = {"ro": False, "ro_rc": True, "ttl": True}
        got = {n: listed[n].reclassify for n in want}
        if got != want:
            raise MeasurementError(f"registered with the wrong re-classification: {got}")

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
            action_errors={n: delta(n, "errors") + delta(n, "drops") for n in REGISTRATIONS},
            action_run_ns={n: delta(n, "run_time_ns") for n in REGISTRATIONS},
        )
        check_round(config, sample)
        return sample


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


def measure(sandbox: Sandbox, rounds: int = ROUNDS, seconds: float = SECONDS) -> list[Sample]:
    """``rounds`` rounds of a, b, c, d on ``sandbox`` (started here, stopped by the caller)."""
    try:
        bench = Bench(sandbox)
    except OvsError as e:
        raise MeasurementError(f"cannot set up the datapath benchmark: {e}") from e
    samples = []
    for _ in range(rounds):
        for config in CONFIGS:
            samples.append(bench.round(config, seconds))
    return samples


# ---------------------------------------------------------------- reporting


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
    action_call_ns: float | None  # bpf/show: time in BPF_PROG_TEST_RUN per call


def summarize(samples: list[Sample]) -> list[Summary]:
    out = []
    for config in CONFIGS:
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
            )
        )
    return out


def table(
    summaries: list[Summary],
    rounds: int,
    seconds: float,
    prog_ns: dict[str, float],
    mhz: float | None,
) -> list[str]:
    """The markdown tables: per configuration, the ratios, the action's own cost."""
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
    lines += [
        "",
        "| ratio | OVS CPU ns/pkt | delivered pps |",
        "|---|---:|---:|",
    ]
    for num, den, what in (
        ("c", "b", "forced re-classification against the proof"),
        ("b", "a", "a read-only action against none"),
        ("d", "a", "a re-classified writer against none"),
    ):
        n, d = by[num], by[den]
        lines.append(
            f"| ({num})/({den}): {what} | {n.cpu_ns / d.cpu_ns:.2f}x | {n.pps / d.pps:.2f}x |"
        )
    lines += [
        "",
        "| config | action | prog_ns (BPF_PROG_TEST_RUN, repeat) | call_ns in OVS (bpf/show) "
        "| added OVS CPU ns/pkt vs (a) | added ns/pkt from pps vs (a) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    base = by["a"]
    for s in summaries:
        if s.config.action is None:
            continue
        source = REGISTRATIONS[s.config.action][0].stem
        lines.append(
            f"| ({s.config.key}) | {source} | {prog_ns[source]:.0f} | {s.action_call_ns:.0f} "
            f"| {s.cpu_ns - base.cpu_ns:.0f} | {1e9 / s.pps - 1e9 / base.pps:.0f} |"
        )
    return lines


def action_run_times() -> dict[str, float]:
    """The programs' own run time: BPF_PROG_TEST_RUN with repeat, as bench/testrun.py."""
    from bench import testrun
    from extframe.build import build

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in {src for src, _ in REGISTRATIONS.values()}:
            prog_ns, _ = testrun.measure(build(source, Path(tmp) / f"{source.stem}.o"))
            if prog_ns <= 0:
                raise MeasurementError(f"{source.stem}: the kernel reported no run time")
            out[source.stem] = prog_ns
    return out


def main(options: RunOptions) -> int:
    rounds = options.rounds or ROUNDS
    seconds = options.seconds or SECONDS
    prog_ns = action_run_times()
    with private_sandbox() as sb:
        samples = measure(sb, rounds, seconds)
    lines = table(summarize(samples), rounds, seconds, prog_ns, cpu_mhz())
    publish("datapath", lines)
    return 0
