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
action's ``bpf/show`` counters. veth ports are ``system`` netdevs, not PMD
netdevs (``is_pmd = false`` in lib/netdev-linux.c): the main thread polls
them in ``dpif_netdev_run()``, and the PMD cycle counters
(``PMD_CYCLES_ITER_BUSY``/``IDLE``, added by ``pmd_perf_end_iteration()`` in
``pmd_thread_main()``) never see them; so this setup measures
ovs-vswitchd's CPU time from the kernel's process CPU clock
(``CPUCLOCK_SCHED``, nanoseconds) per packet.

The PMD cycles come from a second patched switch (``PmdBench``) whose two
ports are netdev-dummy's ``dummy-pmd`` class (``is_pmd = true``), polled by
one PMD thread pinned to the last core. After each configuration's veth
round, the same pipeline runs there on ``PMD_PACKETS`` frames identical to
trafgen's, given to ``netdev-dummy/receive`` 100 a call (the most its
receive queue holds). The PMD thread counts its own cycles with ``rdtsc``
(``cycles_counter_update()`` in lib/dpif-netdev-perf.h; the CPU has
``constant_tsc`` and ``nonstop_tsc``): ``pmd-stats-show``'s ``processing
cycles`` per packet received, and the median of ``pmd-perf-show``'s
cycles/pkt histogram (``pmd-perf-metrics=true``), a typical packet. They
are shown as ns at the nominal clock of /proc/cpuinfo.

Every round checks that it measured what it meant to (see ``check_round``)
and the benchmark stops with a one-line error otherwise.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

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
#: The PMD part: packets injected per round and per ``netdev-dummy/receive`` call.
#: netdev-dummy queues at most 100 packets per receive queue
#: (``NETDEV_DUMMY_MAX_QUEUE``) and silently frees the rest, so a call carries 100
#: and the next one waits until the PMD thread has taken them.
PMD_PACKETS = 50_000
PMD_BATCH = 100
#: While the veth rounds run, the idle PMD thread sleeps (``pmd-maxsleep``, µs)
#: instead of spinning on the core that trafgen and the other switch share.
PMD_IDLE_SLEEP_US = 10_000
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
class PmdSample:
    """What one round of one configuration measured on the dummy-pmd switch."""

    sent: int  # packets given to netdev-dummy/receive
    pmd_packets: int  # packets the PMD thread received (pmd-stats-show)
    main_packets: int  # packets the main thread received: must be none
    recirculations: int  # the PMD thread's
    busy_cycles: int  # the PMD thread's processing cycles (iterations that received packets)
    median_cycles: float  # a typical packet: the median of pmd-perf-show's cycles/pkt histogram
    histogram_packets: int  # the packets in that histogram
    action_packets: dict[str, int] = field(default_factory=dict)
    action_errors: dict[str, int] = field(default_factory=dict)

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
    action_errors: dict[str, int] = field(default_factory=dict)
    action_run_ns: dict[str, int] = field(default_factory=dict)
    pmd: PmdSample | None = None  # the same configuration's round on the dummy-pmd switch

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


def check_pmd_round(config: Config, s: PmdSample) -> None:
    """Raise ``MeasurementError`` unless the PMD round measured what ``config`` means."""
    where = f"config ({config.key}) {config.label}, PMD switch"
    if s.main_packets:
        raise MeasurementError(
            f"{where}: the main thread received {s.main_packets} packets: dummy-pmd ports "
            "must be polled by a PMD thread only"
        )
    if s.pmd_packets != s.sent:
        raise MeasurementError(
            f"{where}: {s.sent} packets sent but the PMD thread received {s.pmd_packets} "
            "(netdev-dummy drops what does not fit its 100-packet queue)"
        )
    if s.busy_cycles <= 0 or s.median_cycles <= 0:
        raise MeasurementError(f"{where}: no PMD cycles counted for {s.pmd_packets} packets")
    if s.histogram_packets != s.pmd_packets:
        raise MeasurementError(
            f"{where}: pmd-perf-show's cycles/pkt histogram holds {s.histogram_packets} "
            f"iterations for {s.pmd_packets} packets: is pmd-perf-metrics on, one packet each?"
        )
    expected = 2 if config.reclassified else 1
    if abs(s.passes_per_packet - expected) > 0.01:
        raise MeasurementError(
            f"{where}: {s.passes_per_packet:.3f} datapath passes per packet, expected {expected}"
        )
    for name in REGISTRATIONS:
        moved = s.action_packets.get(name, 0)
        if name == config.action:
            if moved != s.pmd_packets:
                raise MeasurementError(
                    f"{where}: bpf/show {name} counted {moved} packets, the PMD {s.pmd_packets}"
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

    One connection for thousands of ``netdev-dummy/receive`` calls: starting
    ovs-appctl for each would make the injection, not the PMD, the bottleneck.
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


class PmdBench:
    """A second patched switch whose two ports are ``dummy-pmd``: a PMD thread polls them.

    Packets go in with ``netdev-dummy/receive`` (hex frames, ``PMD_BATCH`` a
    call), so the PMD thread's own cycle counters (TSC) measure the pipeline.
    """

    def __init__(self, run_dir: Path) -> None:
        self.sw = Switch(run_dir)
        self.ctl: Unixctl | None = None
        self.core = max(0, (os.cpu_count() or 1) - 1)
        frames = [ipv4_udp_frame(1000 + i % FLOWS).hex() for i in range(FLOWS + PMD_BATCH)]
        # Batch k runs over the flows from k % FLOWS on, so every flow gets its share.
        self.batches = [frames[i : i + PMD_BATCH] for i in range(FLOWS)]

    def start(self) -> None:
        sw = self.sw
        # =override: br0's internal port is a dummy too (no tap on the host);
        # --disable-system: no kernel datapath. dummy-pmd is there either way.
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
                    "type=dummy-pmd", f"ofport_request={n}"]  # fmt: skip
        sw.vsctl(*cmd)
        for name, (source, forced) in REGISTRATIONS.items():
            registry.register(sw, name, source, force_reclassify=forced)
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

    def _inject(self, ctl: Unixctl, packets: int) -> None:
        """Send ``packets`` frames, each batch once the PMD thread took the previous one."""
        sent = self._pmd_received(ctl)
        goal = sent + packets
        batch = 0
        while sent < goal:
            frames = self.batches[batch % FLOWS][: goal - sent]
            ctl.call("netdev-dummy/receive", "p1", *frames)
            sent += len(frames)
            batch += 1
            deadline = time.monotonic() + 10
            while (got := self._pmd_received(ctl)) < sent:
                if time.monotonic() > deadline:
                    raise MeasurementError(
                        f"the PMD thread received {got} of {sent} packets and no more: "
                        "netdev-dummy dropped some"
                    )
                time.sleep(0.0002)

    def round(self, config: Config, packets: int) -> PmdSample:
        """One measurement of ``config`` on the PMD switch, checked."""
        sw, ctl = self.sw, self.ctl
        assert ctl is not None, "start() first"
        table = sw.run_dir / "flows.txt"
        table.write_text("\n".join(flows(config)) + "\n")
        sw.ofctl("replace-flows", "br0", str(table))
        sw.appctl("dpctl/del-flows")
        sw.vsctl("set", "Open_vSwitch", ".", "other_config:pmd-maxsleep=0")
        try:
            self._inject(ctl, FLOWS)  # the megaflows, before the counters start
            time.sleep(0.1)
            before = {n: sw.counters(n) for n in REGISTRATIONS}
            self.clear(ctl)
            self._inject(ctl, packets)
            stats = pmd_threads(ctl.call("dpif-netdev/pmd-stats-show"))
            perf = ctl.call("dpif-netdev/pmd-perf-show", "-pmd", str(self.core))
        finally:
            sw.vsctl("set", "Open_vSwitch", ".", f"other_config:pmd-maxsleep={PMD_IDLE_SLEEP_US}")
        after = {n: sw.counters(n) for n in REGISTRATIONS}
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
            histogram_packets=sum(n for _, n in bins),
            action_packets={
                n: after[n].get("packets", 0) - before[n].get("packets", 0) for n in REGISTRATIONS
            },
            action_errors={
                n: sum(after[n].get(k, 0) - before[n].get(k, 0) for k in ("errors", "drops"))
                for n in REGISTRATIONS
            },
        )
        if passes is not None and abs(passes - sample.passes_per_packet) > 0.01:
            raise MeasurementError(
                f"config ({config.key}): pmd-perf-show says {passes} passes/pkt, "
                f"pmd-stats-show {sample.passes_per_packet:.2f}"
            )
        check_pmd_round(config, sample)
        return sample


@contextlib.contextmanager
def pmd_switch(run_dir: Path) -> Iterator[PmdBench]:
    """The PMD switch, started and stopped whatever happens (Ctrl-C included)."""
    pmd = PmdBench(run_dir)
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
    """``rounds`` rounds of a, b, c, d on ``sandbox`` (started here, stopped by the caller).

    Each configuration's round on the veth sandbox is followed by its round
    on the dummy-pmd switch (``PmdBench``, in ``pmd-switch`` beside the
    sandbox's run directory, stopped here), ``pmd_packets`` packets.
    """
    try:
        bench = Bench(sandbox)
    except OvsError as e:
        raise MeasurementError(f"cannot set up the datapath benchmark: {e}") from e
    samples = []
    with pmd_switch(sandbox.run_dir.parent / "pmd-switch") as pmd:
        for _ in range(rounds):
            for config in CONFIGS:
                sample = bench.round(config, seconds)
                sample.pmd = pmd.round(config, pmd_packets)
                samples.append(sample)
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
    pmd: PmdSummary | None = None  # None if the rounds had no PMD part


@dataclass(frozen=True)
class PmdSummary:
    """Medians over the PMD rounds of one configuration."""

    cycles: float  # processing cycles per packet
    cycles_range: tuple[float, float]
    median: float  # the cycles/pkt histogram's median
    median_range: tuple[float, float]
    passes: float


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
    )


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
                pmd=summarize_pmd(pmds) if (pmds := [s.pmd for s in mine if s.pmd]) else None,
            )
        )
    return out


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
        f"| ratio | OVS CPU ns/pkt | delivered pps |{pmd_head}",
        "|---|---:|---:|" + ("---:|---:|" if pmds else ""),
    ]
    for num, den, what in (
        ("c", "b", "forced re-classification against the proof"),
        ("b", "a", "a read-only action against none"),
        ("d", "a", "a re-classified writer against none"),
    ):
        n, d = by[num], by[den]
        cells = f" {n.cpu_ns / d.cpu_ns:.2f}x | {n.pps / d.pps:.2f}x |"
        if pmds:
            cells += (
                f" {pmds[num].cycles / pmds[den].cycles:.2f}x"
                f" | {pmds[num].median / pmds[den].median:.2f}x |"
            )
        lines.append(f"| ({num})/({den}): {what} |{cells}")
    lines += [
        "",
        "| config | action | prog_ns (BPF_PROG_TEST_RUN, repeat) | call_ns in OVS (bpf/show) "
        "| added OVS CPU ns/pkt vs (a) | added ns/pkt from pps vs (a) |"
        + (" added PMD cycles/pkt vs (a) |" if pmds else ""),
        "|---|---|---:|---:|---:|---:|" + ("---:|" if pmds else ""),
    ]
    base = by["a"]
    for s in summaries:
        if s.config.action is None:
            continue
        source = REGISTRATIONS[s.config.action][0].stem
        lines.append(
            f"| ({s.config.key}) | {source} | {prog_ns[source]:.0f} | {s.action_call_ns:.0f} "
            f"| {s.cpu_ns - base.cpu_ns:.0f} | {1e9 / s.pps - 1e9 / base.pps:.0f} |"
            + (f" {pmds[s.config.key].cycles - pmds['a'].cycles:.0f} |" if pmds else "")
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
        f"PMD thread), {packets} packets a round through netdev-dummy/receive, median of "
        f"{rounds} rounds interleaved with the ones above",
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
        samples = measure(sb, rounds, seconds, PMD_PACKETS)
    lines = table(summarize(samples), rounds, seconds, prog_ns, cpu_mhz())
    publish("datapath", lines)
    return 0
