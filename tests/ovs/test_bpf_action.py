"""End to end: bundled actions in the patched ovs-vswitchd, real packets.

The actions are built, verified and pinned by extframe itself, registered
with ``ovs-appctl bpf/add`` and used by OpenFlow flows; packets go in on a
netdev-dummy port and the tests read what comes out of the others.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap

from extframe.errors import OvsError
from tests.ovs.conftest import Switch

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]


def pin(action: str, bpffs: Path) -> Path:
    """Loads actions/ACTION.c with extframe and returns its pinned program."""
    subprocess.run(
        [sys.executable, "-m", "extframe", "load", str(ROOT / "actions" / f"{action}.c")],
        check=True,
        capture_output=True,
        text=True,
    )
    path = bpffs / action / "prog" / action
    assert path.exists(), path
    return path


def frames() -> list[Packet]:
    base = Ether(src="50:54:00:00:00:05", dst="50:54:00:00:00:07")
    return [
        base / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64) / UDP(sport=1000, dport=53) / Raw(b"q"),
        base / IP(src="10.0.0.3", dst="10.0.0.4", ttl=64) / TCP(sport=2000, dport=80),
        base
        / IP(src="10.0.0.5", dst="10.0.0.6", ttl=64, options=b"\x01\x01\x01\x00")
        / UDP(sport=7, dport=9),
    ]


def sent(switch: Switch, port: int) -> list[Packet]:
    path = switch.run_dir / f"p{port}-tx.pcap"
    return list(rdpcap(str(path))) if path.exists() and path.stat().st_size > 24 else []


def datapath_flows(switch: Switch) -> list[str]:
    out = switch.appctl("dpctl/dump-flows")
    return [line for line in out.splitlines() if line.startswith("recirc_id")]


def test_writing_action_is_reclassified_and_read_only_is_not(
    switch: Switch, bpffs_root: Path
) -> None:
    dec_ttl = pin("dec_ttl", bpffs_root)
    counter = pin("port_counter", bpffs_root)
    switch.add_bridge(ports=3)
    switch.appctl("bpf/add", "dec_ttl", str(dec_ttl), "reclassify=yes", "fields=nw_ttl")
    switch.appctl("bpf/add", "count", str(counter), "reclassify=no")
    for flow in (
        "table=0,in_port=1,ip,actions=bpf(count),bpf(dec_ttl),resubmit(,1)",
        "table=1,ip,nw_ttl=63,actions=output:2",
        "table=1,priority=0,actions=output:3",
    ):
        switch.ofctl("add-flow", "br0", flow)

    sent_frames = frames()
    for frame in sent_frames:
        switch.send("p1", bytes(frame))
    switch.settle()

    # Table 1 saw the TTL the program wrote: every packet left on port 2.
    out = sent(switch, 2)
    assert sent(switch, 3) == []
    assert len(out) == len(sent_frames)
    for before, after in zip(sent_frames, out, strict=True):
        assert after[IP].ttl == 63
        fixed = after[IP].copy()
        fixed.chksum = None
        assert IP(bytes(fixed)).chksum == after[IP].chksum, "IPv4 checksum not updated"
        expect = Ether(bytes(before))
        expect[IP].ttl = 63
        expect[IP].chksum = after[IP].chksum
        assert bytes(after) == bytes(expect), "a byte other than ttl/csum changed"

    # The read-only counter stays in the first megaflow; only dec_ttl recirculates.
    first = [f for f in datapath_flows(switch) if f.startswith("recirc_id(0),")]
    assert first and all("bpf(id=2," in f and "recirc(" in f for f in first), first
    counters = switch.appctl("bpf/show", "count")
    assert "packets: 3" in counters and "errors: 0" in counters, counters


def test_read_only_action_leaves_packets_and_megaflow_alone(
    switch: Switch, bpffs_root: Path
) -> None:
    counter = pin("port_counter", bpffs_root)
    switch.add_bridge(ports=2)
    switch.appctl("bpf/add", "count", str(counter), "reclassify=no")
    switch.ofctl("add-flow", "br0", "in_port=1,actions=bpf(count),output:2")
    for frame in frames():
        switch.send("p1", bytes(frame))
    switch.settle()

    assert [bytes(p) for p in sent(switch, 2)] == [bytes(f) for f in frames()]
    flows = datapath_flows(switch)
    assert flows and not any("recirc(" in f for f in flows), flows
    maps = subprocess.run(
        [sys.executable, "-m", "extframe", "maps", "port_counter"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "1: {packets = 3," in maps, maps


def test_unknown_action_and_deleted_action(switch: Switch, bpffs_root: Path) -> None:
    counter = pin("port_counter", bpffs_root)
    switch.add_bridge(ports=2)
    with pytest.raises(OvsError, match="NXBAC_UNKNOWN_BPF_ACTION"):
        switch.ofctl("add-flow", "br0", "in_port=1,actions=bpf(nosuch),output:2")

    switch.appctl("bpf/add", "count", str(counter), "reclassify=no")
    switch.ofctl("add-flow", "br0", "in_port=1,actions=bpf(count),output:2")
    frame = bytes(frames()[0])
    switch.send("p1", frame)
    switch.settle()
    assert len(sent(switch, 2)) == 1

    switch.appctl("bpf/del", "count")
    switch.settle()
    switch.send("p1", frame)
    switch.settle()
    assert len(sent(switch, 2)) == 1, "a deleted action's flow still forwarded"
    assert all("bpf(" not in f for f in datapath_flows(switch))
