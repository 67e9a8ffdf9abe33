"""extframe mirror on the sandbox: real hosts, real frames, real pcap readers.

h1 sends a corpus of frames (the one the kernel tests hold to tcpdump) into
the bridge; h2 captures what arrives with tcpdump. With and without a mirror
the same frames must arrive; the mirror's pcap must hold exactly what
``tcpdump -r corpus.pcap FILTER`` selects, byte for byte, and tcpdump and
tshark must read it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import RawPcapReader, rdpcap, wrpcap

from extframe.mirror.session import COOKIE_TAG
from extframe.ovs import traffic
from extframe.ovs.sandbox import Host, Sandbox
from extframe.ovs.switch import Switch
from tests.conftest import ROOT, cli
from tests.kernel.test_mirror_filters import corpus
from tests.ovs.conftest import pins, switch_arg

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

FILTER = "udp dst port 5001 or tcp[13] & 2 != 0 or vlan"
FORWARD = ["in_port=1,actions=output:2", "in_port=2,actions=output:1"]


def _start(sb: Sandbox, hosts: int = 2, flows: list[str] = FORWARD) -> None:
    sb.start(hosts=hosts)
    r = cli("flow", "add", *flows, *switch_arg(sb))
    assert r.returncode == 0, r.stderr


@contextmanager
def _tcpdump(host: Host, out: Path) -> Iterator[list[bytes]]:
    """What arrives at ``host``'s eth0 while the block runs, as tcpdump saw it."""
    proc = subprocess.Popen(
        host.command(
            "tcpdump",
            "-Z",
            "root",
            "--immediate-mode",
            "-i",
            "eth0",
            "-Q",
            "in",
            "-U",
            "-w",
            str(out),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "listening on eth0" in line, line
    frames: list[bytes] = []
    try:
        yield frames
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    frames += [bytes(p) for p in rdpcap(str(out))]
    assert frames, f"tcpdump on {host.name} captured nothing: {err}"


class MirrorProcess:
    """``extframe mirror`` in the background, ready once it says where it writes."""

    def __init__(self, sb: Sandbox, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "extframe", "mirror", *args, *switch_arg(sb)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        self.head = [self.proc.stderr.readline() for _ in range(2)]
        if "writing" not in self.head[-1]:
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"the mirror did not start: {''.join(self.head)}{err}")

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, "".join(self.head) + err

    def wait(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, "".join(self.head) + err


def _pins(sw: Switch) -> list[str]:
    return pins(sw.pin_root) if sw.pin_root.exists() else []


def _nothing_left(sb: Sandbox) -> None:
    sw = sb.switch
    flows = sw.ofctl("dump-flows", "br0")
    assert f"cookie={COOKIE_TAG:#x}" not in flows, flows
    assert sw.registered() == {}
    assert _pins(sw) == []
    assert list(sw.state_dir.glob("mirror_*")) == []


def _selected(tmp: Path, frames: list[bytes], expression: str) -> list[bytes]:
    wrpcap(str(tmp / "corpus.pcap"), [Ether(f) for f in frames])
    subprocess.run(
        ["tcpdump", "-r", str(tmp / "corpus.pcap"), "-w", str(tmp / "want.pcap"), expression],
        check=True,
        capture_output=True,
    )
    return [bytes(p) for p in rdpcap(str(tmp / "want.pcap"))]


def _dp_flows(sw: Switch) -> list[str]:
    return [ln for ln in sw.appctl("dpctl/dump-flows").splitlines() if "recirc_id" in ln]


def test_mirror_captures_what_tcpdump_selects_and_changes_no_forwarding(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _start(sandbox)
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    # The corpus, and frames the kernel will not run any program on (IPv4
    # and IPv6 shorter than their headers): they must still be forwarded.
    runts = [
        bytes(Ether(src=h1.mac, dst=h2.mac, type=0x0800) / Raw(b"\x45\x00")),
        bytes(Ether(src=h1.mac, dst=h2.mac, type=0x86DD) / Raw(b"\x60" + b"\0" * 20)),
    ]
    frames = [bytes(f) for f in corpus()] + runts
    want = _selected(tmp_path, frames, FILTER)
    assert 0 < len(want) < len(frames)

    with _tcpdump(h2, tmp_path / "before.pcap") as before:
        traffic.send_frames(h1, frames)

    out = tmp_path / "mirror.pcap"
    mirror = MirrorProcess(sandbox, "--in-port", "1", FILTER, "-w", str(out), "--json")
    assert "(proved read-only)" in mirror.head[0]
    t0 = time.time()
    with _tcpdump(h2, tmp_path / "during.pcap") as during:
        traffic.send_frames(h1, frames)
        dp = _dp_flows(sandbox.switch)
        runs_on = {n: r.runs_on for n, r in sandbox.switch.registered().items()}
    t1 = time.time()
    code, stdout, stderr = mirror.stop(signal.SIGINT)
    assert code == 0, stderr

    # Forwarding: the same frames arrived, in the same order, runts too.
    assert before and during == before
    assert all(r in during for r in runts)
    # The datapath ran the mirror without re-classifying.
    assert any("bpf(" in f for f in dp), dp
    assert not any("recirc(" in f for f in dp), dp
    # ... in-process: the records came through the switch's own ring buffer.
    assert runs_on == {f"mirror_{mirror.proc.pid}": "inproc"}, runs_on

    # The pcap: exactly what tcpdump selects, with lengths and sane timestamps.
    records = list(RawPcapReader(str(out)))
    assert [data for data, _ in records] == want
    assert [meta.wirelen for _, meta in records] == [len(w) for w in want]
    stamps = [meta.sec + meta.usec / 1e9 for _, meta in records]
    assert stamps == sorted(stamps)
    assert t0 - 0.5 <= stamps[0] and stamps[-1] <= t1 + 0.5, (t0, stamps, t1)

    # Real readers read it.
    read = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True)
    assert read.returncode == 0 and len(read.stdout.splitlines()) == len(want), read.stderr
    shark = subprocess.run(
        ["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"],
        capture_output=True,
        text=True,
    )
    assert shark.returncode == 0, shark.stderr
    rows = [line.split("\t") for line in shark.stdout.splitlines()]
    assert rows == [[str(len(w)), str(len(w))] for w in want]

    summary = json.loads(stdout)
    assert summary["written"] == summary["captured"] == summary["matched"] == len(want)
    assert summary["seen"] >= len(frames) - len(runts) and summary["ring_full"] == 0
    assert summary["stopped_by"] == "SIGINT"
    assert f"{len(want)} packets written" in stderr
    _nothing_left(sandbox)


def test_count_duration_sigterm_and_a_later_table(sandbox: Sandbox, tmp_path: Path) -> None:
    flows = [
        "table=0,in_port=1,actions=resubmit(,1)",
        "table=0,in_port=2,actions=output:1",
        "table=1,ip,actions=output:2",
    ]
    _start(sandbox, flows=flows)
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")

    # -c: stops by itself after that many packets.
    out = tmp_path / "c.pcap"
    m = MirrorProcess(sandbox, "--flow", "table=1,udp", "-c", "3", "-w", str(out))
    assert "table=1," in m.head[0] and "resubmit(,1)" in m.head[0]
    rx = traffic.Receiver(h2, 9000, idle=0.7, timeout=20)
    try:
        sent = traffic.send(h1, h2.ip, 9000, 10, rate=50)
        got = rx.result()
    finally:
        rx.stop()
    code, _, err = m.wait()
    assert code == 0, err
    assert "stopped by -c 3" in err
    assert len(rdpcap(str(out))) == 3
    assert got["received"] == sent["sent"] == 10  # forwarding through table 1 unchanged
    _nothing_left(sandbox)

    # --duration with no matching traffic: an empty pcap that tcpdump still reads.
    out = tmp_path / "d.pcap"
    m = MirrorProcess(sandbox, "tcp port 1", "--duration", "1", "-w", str(out))
    code, _, err = m.wait()
    assert code == 0 and "stopped by --duration 1" in err, err
    assert subprocess.run(["tcpdump", "-r", str(out)], capture_output=True).returncode == 0
    _nothing_left(sandbox)

    # A predicate of one's own, and-ed with the filter.
    out = tmp_path / "p.pcap"
    predicate = ROOT / "docs" / "examples" / "mirror_low_ttl.c"
    m = MirrorProcess(sandbox, "--predicate", str(predicate), "icmp", "-c", "2", "-w", str(out))
    h1.run("ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", h2.ip)  # TTL 64: not these
    h1.run("ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-t", "1", h2.ip)
    code, _, err = m.wait()
    assert code == 0, err
    assert [p[IP].ttl for p in rdpcap(str(out))] == [1, 1]
    _nothing_left(sandbox)

    # -w -: the pcap on standard output, straight into tcpdump.
    pipe = subprocess.Popen(
        f"{sys.executable} -m extframe mirror icmp -c 2 -w - --switch {sandbox.run_dir}"
        " | tcpdump -n -r -",
        shell=True,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30  # the mirror builds, proves, registers, adds its flow
    while f"cookie={COOKIE_TAG:#x}" not in sandbox.switch.ofctl("dump-flows", "br0"):
        assert time.monotonic() < deadline and pipe.poll() is None, pipe.communicate()
        time.sleep(0.1)
    traffic.ping(h1, h2.ip, count=3)
    shown, err = pipe.communicate(timeout=60)
    assert pipe.returncode == 0, err
    assert len(re.findall(r"ICMP echo (request|reply)", shown)) == 2, shown + err
    _nothing_left(sandbox)

    # SIGTERM: a clean stop too.
    m = MirrorProcess(sandbox, "-w", str(tmp_path / "t.pcap"))
    traffic.ping(h1, h2.ip, count=2)
    code, _, err = m.stop(signal.SIGTERM)
    assert code == 0 and "stopped by SIGTERM" in err, err
    assert len(rdpcap(str(tmp_path / "t.pcap"))) >= 2
    _nothing_left(sandbox)


def test_a_full_ring_buffer_is_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    _start(sandbox)
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    out = tmp_path / "full.pcap"
    m = MirrorProcess(sandbox, "udp", "-B", "4", "-w", str(out), "--json")
    m.proc.send_signal(signal.SIGSTOP)  # the reader stalls; the ring fills
    try:
        frame = bytes(
            Ether(src=h1.mac, dst=h2.mac)
            / IP(src=h1.ip, dst=h2.ip)
            / UDP(dport=7)
            / Raw(b"f" * 958)
        )
        traffic.send_frames(h1, [frame] * 30, gap=0.001)
        time.sleep(0.3)
    finally:
        m.proc.send_signal(signal.SIGCONT)
    time.sleep(1)
    code, stdout, err = m.stop()
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["matched"] == 30
    assert summary["ring_full"] > 0, summary
    assert summary["captured"] + summary["ring_full"] == 30
    assert summary["written"] == summary["captured"] == len(rdpcap(str(out)))
    assert re.search(r"warning: \d+ packets lost to a full ring buffer", err), err
    assert f"{summary['ring_full']} packets lost to a full ring buffer" in err
    _nothing_left(sandbox)


def test_a_killed_mirror_is_cleaned_up_by_the_next(sandbox: Sandbox, tmp_path: Path) -> None:
    _start(sandbox)
    m = MirrorProcess(sandbox, "-w", str(tmp_path / "a.pcap"))
    sw = sandbox.switch
    name = f"mirror_{m.proc.pid}"
    assert name in sw.registered()
    m.proc.kill()
    m.proc.communicate()
    assert name in sw.registered()  # what kill -9 leaves

    again = MirrorProcess(sandbox, "-w", str(tmp_path / "b.pcap"), "--duration", "0.5")
    assert name not in sw.registered()
    assert f"cookie={(COOKIE_TAG << 32 | m.proc.pid):#x}" not in sw.ofctl("dump-flows", "br0")
    code, _, err = again.wait()
    assert code == 0, err
    _nothing_left(sandbox)


def test_a_switch_that_stops_ends_the_mirror_cleanly(sandbox: Sandbox, tmp_path: Path) -> None:
    _start(sandbox)
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    out = tmp_path / "s.pcap"
    m = MirrorProcess(sandbox, "icmp", "-w", str(out))
    traffic.ping(h1, h2.ip, count=2)
    time.sleep(0.3)
    sandbox.switch.stop()  # the daemons only: what a crash or an operator does
    code, _, err = m.wait()
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("extframe: error: the switch in ") and "stopped while mirroring" in last
    assert "packets were written to" in last
    assert len(rdpcap(str(out))) >= 2  # what was captured stays readable
    assert _pins(sandbox.switch) == []
    assert list(sandbox.switch.state_dir.glob("mirror_*")) == []


def _refused(sb: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """A mirror that must not start; if it wrongly does, it ends within seconds."""
    return cli("mirror", *args, "--duration", "3", *switch_arg(sb))


def test_bad_input_is_refused_and_leaves_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    _start(sandbox)
    out = tmp_path / "x.pcap"

    r = _refused(sandbox, "tcp dst prt 443", "-w", str(out))
    assert r.returncode == 2
    assert not out.exists()
    assert r.stderr.strip().splitlines()[-1] == (
        "extframe: error: filter 'tcp dst prt 443' does not compile: unknown host 'prt'"
    )
    _nothing_left(sandbox)

    writer = tmp_path / "ttl.c"
    writer.write_text(
        "static __always_inline int\n"
        "extframe_mirror_match(struct __sk_buff *skb)\n"
        "{\n"
        "\tstruct extframe_cursor cur;\n"
        "\t__u16 type;\n"
        "\textframe_cursor_init(&cur, skb);\n"
        "\tstruct iphdr *ip = extframe_parse_eth(&cur, &type) && type == ETH_P_IP\n"
        "\t\t? extframe_parse_ipv4(&cur) : 0;\n"
        "\tif (ip)\n"
        "\t\tip->ttl = 1;\n"
        "\treturn 1;\n"
        "}\n"
    )
    r = _refused(sandbox, "--predicate", str(writer), "-w", str(out))
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert "is not proved read-only, as it must be: ttl.c:10 writes " in line, line
    assert "ip.ttl" in line
    assert not out.exists()
    _nothing_left(sandbox)

    r = _refused(sandbox, "--in-port", "1", "--bridge", "nope", "-w", str(out))
    assert r.returncode == 2 and "no bridge 'nope'" in r.stderr
    r = _refused(sandbox, "--flow", "nw_dst=10.0.0.3", "-w", str(out))
    assert r.returncode == 2 and "prerequisite is missing" in r.stderr, r.stderr
    r = _refused(sandbox, "--flow", "ip,nw_dst=10.0.0.0.1", "-w", str(out))
    assert r.returncode == 2 and "--flow 'ip,nw_dst=10.0.0.0.1': " in r.stderr, r.stderr
    r = _refused(sandbox, "-w", "/nonexistent/dir/x.pcap")
    assert r.returncode == 2 and "cannot write /nonexistent/dir/x.pcap" in r.stderr
    _nothing_left(sandbox)

    r = cli("flow", "add", "table=0,priority=5,reg15=1,actions=drop", *switch_arg(sandbox))
    assert r.returncode == 0, r.stderr
    r = _refused(sandbox, "-w", str(out))
    assert r.returncode == 2 and "use reg15" in r.stderr, r.stderr
    _nothing_left(sandbox)

    sandbox.stop()
    r = _refused(sandbox, "-w", str(out))
    assert r.returncode == 2 and "no Open vSwitch is running" in r.stderr, r.stderr
    assert not out.exists()
