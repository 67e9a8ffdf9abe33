"""Lazy re-classification end to end: real packets through the patched switch.

Bundled actions are registered by ``extframe register``, which sends the
fields they were proved to write in OVS's names (``reclassify=lazy
fields=nw_ttl``). The switch then recirculates only right before a step
that may observe one of them (decision 0008): these tests send frames with
``netdev-dummy/receive`` and read what leaves each port and which datapath
flows the switch installed.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap

from extframe.ovs.maps import open_action_map
from tests.conftest import ACTIONS, cli
from tests.ovs.conftest import Switch

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

PROGS = Path(__file__).parent / "progs"


def _at(switch: Switch) -> list[str]:
    return ["--switch", f"unix:{switch.run_dir / 'db.sock'}"]


def _register(switch: Switch, name: str, source: Path, *extra: str) -> str:
    r = cli("register", name, str(source), *extra, *_at(switch))
    assert r.returncode == 0, r.stderr
    return r.stdout


def _flows(switch: Switch, *flows: str) -> None:
    for flow in flows:
        switch.ofctl("add-flow", "br0", flow)


def _udp(src: str = "10.0.0.1", dst: str = "10.0.0.2", ttl: int = 64, dport: int = 53) -> Packet:
    return (
        Ether(src="50:54:00:00:00:05", dst="50:54:00:00:00:07")
        / IP(src=src, dst=dst, ttl=ttl)
        / UDP(sport=1000, dport=dport)
        / Raw(b"lazy")
    )


def _sent(switch: Switch, port: int) -> list[Packet]:
    path = switch.run_dir / f"p{port}-tx.pcap"
    return list(rdpcap(str(path))) if path.exists() and path.stat().st_size > 24 else []


def _dp_flows(switch: Switch) -> list[str]:
    out = switch.appctl("dpctl/dump-flows")
    return [ln.strip() for ln in out.splitlines() if ln.startswith("recirc_id")]


def _datapath_counts(switch: Switch) -> tuple[int, int]:
    """Packets the datapath received and recirculations it made, over its threads
    (``dpif-netdev/pmd-stats-show``): a packet's passes are 1 + its recirculations."""
    text = switch.appctl("dpif-netdev/pmd-stats-show")
    received = sum(int(n) for n in re.findall(r"packets received: (\d+)", text))
    recirculated = sum(int(n) for n in re.findall(r"packet recirculations: (\d+)", text))
    return received, recirculated


def _wait_until_recirculating(switch: Switch, n: int, timeout: float = 10.0) -> None:
    """Wait until revalidation has made ``n`` first-pass datapath flows recirculate:
    ``revalidator/wait`` may return from a round that began before the flow table changed."""
    deadline = time.monotonic() + timeout
    while True:
        first = [f for f in _dp_flows(switch) if f.startswith("recirc_id(0)")]
        if sum("recirc(" in f for f in first) >= n:
            return
        assert time.monotonic() < deadline, f"no revalidation to recirculating flows: {first}"
        switch.appctl("revalidator/wait")
        time.sleep(0.1)


def _ip_checksum_ok(p: Packet) -> bool:
    fixed = p[IP].copy()
    fixed.chksum = None
    return IP(bytes(fixed)).chksum == p[IP].chksum


def _udp_checksum_ok(p: Packet) -> bool:
    fixed = p[IP].copy()
    fixed[UDP].chksum = None
    return IP(bytes(fixed))[UDP].chksum == p[UDP].chksum


def test_dec_ttl_goes_on_in_one_pass_until_a_table_matches_the_ttl(switch: Switch) -> None:
    switch.add_bridge(ports=3)
    out = _register(switch, "ttl", ACTIONS / "dec_ttl.c")
    assert "nw_ttl (ip.ttl" in out, out
    reg = switch.registered()["ttl"]
    assert (reg.reclassify_mode, reg.fields) == ("lazy", ["nw_ttl"])
    _flows(
        switch,
        "table=0,in_port=1,ip,actions=bpf(ttl),resubmit(,1)",
        "table=1,ip,nw_dst=10.0.0.2,actions=output:2",
        "table=1,priority=0,actions=output:3",
    )
    frames = [_udp(), _udp(dport=54), _udp(dst="10.0.0.4")]
    for f in frames:
        switch.send("p1", bytes(f))
    switch.settle()

    to2, to3 = _sent(switch, 2), _sent(switch, 3)
    assert [p[IP].dst for p in to2] == ["10.0.0.2", "10.0.0.2"]
    assert [p[IP].dst for p in to3] == ["10.0.0.4"]
    for p in to2 + to3:
        assert p[IP].ttl == 63 and _ip_checksum_ok(p), p.show(dump=True)
    # One datapath pass per packet, in flows as a read-only action would
    # give (one per table-1 outcome): nothing recirculates.
    flows = _dp_flows(switch)
    assert not any("recirc(" in f for f in flows), flows
    assert len(flows) == 2, flows
    assert _datapath_counts(switch) == (len(frames), 0)

    # A flow that matches the TTL the action writes: revalidation turns the
    # megaflows into recirculating ones, and exactly the packets whose TTL
    # the action made 63 hit it.
    _flows(switch, "table=1,priority=40000,ip,nw_ttl=63,actions=output:3")
    _wait_until_recirculating(switch, len(flows))
    for f in (_udp(ttl=64), _udp(ttl=10), _udp(ttl=64, dport=54)):
        switch.send("p1", bytes(f))
    switch.settle()
    new2, new3 = _sent(switch, 2)[len(to2) :], _sent(switch, 3)[len(to3) :]
    assert sorted(p[IP].ttl for p in new3) == [63, 63]
    assert [p[IP].ttl for p in new2] == [9]
    assert any("recirc(" in f for f in _dp_flows(switch)), _dp_flows(switch)


def test_dec_ttl_then_native_dec_ttl_decrements_twice(switch: Switch) -> None:
    switch.add_bridge(ports=2)
    _register(switch, "ttl", ACTIONS / "dec_ttl.c")
    _flows(switch, "in_port=1,ip,actions=bpf(ttl),dec_ttl,output:2")
    trace = switch.appctl("ofproto/trace", "br0", "in_port=1,udp,nw_ttl=64")
    assert "freezing before dec_ttl reads or writes nw_ttl, written by bpf(ttl)" in trace, trace
    switch.send("p1", bytes(_udp()))
    switch.settle()
    (p,) = _sent(switch, 2)
    assert p[IP].ttl == 62 and _ip_checksum_ok(p)
    assert any("recirc(" in f for f in _dp_flows(switch))


def _mac_rule(switch: Switch, port: int, dst: str) -> None:
    """mac_rewrite's rule for input ``port``: set the destination to ``dst``."""
    value = bytes.fromhex(dst.replace(":", "")) + bytes(6) + b"\x01"
    with open_action_map(switch, "mac", "mac_rewrite_rules") as m:
        m.update(port.to_bytes(4, "little"), value)


def test_a_set_field_after_mac_rewrite_is_not_lost(switch: Switch) -> None:
    switch.add_bridge(ports=3)
    out = _register(switch, "mac", ACTIONS / "mac_rewrite.c")
    assert "dl_dst (eth.dst)" in out, out
    _mac_rule(switch, 1, "02:00:00:00:00:99")
    # Port 2: the flow sets the destination back to what the packet came
    # with, which translation's copy of the packet still holds. Port 3: the
    # program's address leaves, in one pass.
    _flows(
        switch,
        "in_port=1,udp,tp_dst=53,actions=bpf(mac),set_field:50:54:00:00:00:07->eth_dst,output:2",
        "in_port=1,udp,tp_dst=54,actions=bpf(mac),output:3",
    )
    switch.send("p1", bytes(_udp()))
    switch.send("p1", bytes(_udp(dport=54)))
    switch.settle()
    assert [p[Ether].dst for p in _sent(switch, 2)] == ["50:54:00:00:00:07"]
    assert [p[Ether].dst for p in _sent(switch, 3)] == ["02:00:00:00:00:99"]
    first = [f for f in _dp_flows(switch) if f.startswith("recirc_id(0)")]
    (to_2,) = [f for f in first if "udp(dst=53)" in f]
    (to_3,) = [f for f in first if "udp(dst=54)" in f]
    assert "recirc(" in to_2 and "recirc(" not in to_3, first


def test_nat44_then_a_table_on_the_port_needs_no_recirculation(switch: Switch) -> None:
    switch.add_bridge(ports=3)
    out = _register(switch, "nat", ACTIONS / "nat44.c")
    reg = switch.registered()["nat"]
    assert reg.reclassify_mode == "lazy", out
    assert "nw_src" in reg.fields and "tp_dst" not in reg.fields, reg.fields
    with open_action_map(switch, "nat", "nat44_rules") as m:
        m.update(bytes([10, 0, 0, 1]), bytes([192, 0, 2, 1]))
    _flows(
        switch,
        "table=0,in_port=1,ip,actions=bpf(nat),resubmit(,1)",
        "table=1,udp,tp_dst=53,actions=output:2",
        "table=1,priority=0,actions=output:3",
    )
    switch.send("p1", bytes(_udp()))
    switch.settle()
    (p,) = _sent(switch, 2)
    assert p[IP].src == "192.0.2.1" and _ip_checksum_ok(p) and _udp_checksum_ok(p)
    assert _sent(switch, 3) == []
    flows = _dp_flows(switch)
    assert len(flows) == 1 and "recirc(" not in flows[0], flows


def test_an_unknown_action_freezes_before_the_next_lookup(switch: Switch) -> None:
    switch.add_bridge(ports=2)
    _register(switch, "jump", PROGS / "tail_call.c", "--allow-unknown")
    reg = switch.registered()["jump"]
    assert (reg.reclassify_mode, reg.fields) == ("lazy", ["unknown"])
    _flows(
        switch,
        "table=0,in_port=1,ip,actions=bpf(jump),resubmit(,1)",
        "table=1,ip,nw_dst=10.0.0.2,actions=output:2",
    )
    trace = switch.appctl("ofproto/trace", "br0", "in_port=1,ip,nw_dst=10.0.0.2")
    assert "freezing before resubmit to table 1" in trace, trace
    switch.send("p1", bytes(_udp()))
    switch.settle()
    assert len(_sent(switch, 2)) == 1
    assert any("recirc(" in f for f in _dp_flows(switch) if f.startswith("recirc_id(0)"))


def test_reclassify_yes_still_recirculates_right_after(switch: Switch) -> None:
    switch.add_bridge(ports=2)
    _register(switch, "ttl", ACTIONS / "dec_ttl.c", "--reclassify", "yes")
    assert switch.registered()["ttl"].reclassify_mode == "yes"
    _flows(
        switch,
        "table=0,in_port=1,ip,actions=bpf(ttl),resubmit(,1)",
        "table=1,ip,nw_dst=10.0.0.2,actions=output:2",
    )
    switch.send("p1", bytes(_udp()))
    switch.settle()
    assert [p[IP].ttl for p in _sent(switch, 2)] == [63]
    assert any("recirc(" in f for f in _dp_flows(switch))


def test_list_shows_the_fields_in_both_names(switch: Switch) -> None:
    switch.add_bridge(ports=1)
    _register(switch, "ttl", ACTIONS / "dec_ttl.c")
    r = cli("list", *_at(switch))
    assert r.returncode == 0, r.stderr
    assert "nw_ttl (ip.ttl" in r.stdout, r.stdout
