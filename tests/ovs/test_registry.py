"""extframe register / replace / unregister / list on a running patched switch.

Real hosts in network namespaces send real packets through veth pairs into
the sandbox's bridge; the actions are the bundled ones and two small
programs of this folder (a payload-only writer, an unprovable tail call).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from extframe.kernel.loader import LoadedMap
from extframe.ovs import traffic
from extframe.ovs.registry import read_record
from extframe.ovs.sandbox import Sandbox
from extframe.ovs.switch import Switch
from tests.conftest import ACTIONS, cli
from tests.ovs.conftest import Switch as DummySwitch
from tests.ovs.conftest import action_packets, pins, port_packets, port_stats, switch_arg

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

PROGS = Path(__file__).parent / "progs"
KERNEL_PROGS = Path(__file__).parents[1] / "kernel" / "progs"


def _error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("extframe: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _forwarding(sb: Sandbox, *table0: str, table1: tuple[str, ...] = ()) -> None:
    """ARP by NORMAL, the given flows, and plain forwarding between h1 and h2 otherwise."""
    flows = [
        "table=0,priority=100,arp,actions=NORMAL",
        *table0,
        "table=0,priority=1,ip,in_port=2,actions=output:1",
        *table1,
    ]
    r = cli("flow", "add", *flows, *switch_arg(sb))
    assert r.returncode == 0, r.stderr


def _dp_flows(sw: Switch) -> list[str]:
    out = sw.appctl("dpctl/dump-flows")
    return [ln.strip() for ln in out.splitlines() if ln.startswith("recirc_id")]


def _udp(sb: Sandbox, src: str, dst: str, count: int) -> dict[str, object]:
    a, b = sb.host(src), sb.host(dst)
    rx = traffic.Receiver(b, 9000, idle=0.7, timeout=20)
    try:
        sent = traffic.send(a, b.ip, 9000, count)
        return sent | rx.result()
    finally:
        rx.stop()


def test_read_only_action_forwards_without_recirculation(sandbox: Sandbox) -> None:
    sandbox.start(hosts=2)
    r = cli("register", "count", str(ACTIONS / "port_counter.c"), *switch_arg(sandbox))
    assert r.returncode == 0, r.stderr
    assert "verdict read_only" in r.stdout
    assert "no re-classification (proved read-only): reclassify=no" in r.stdout
    _forwarding(sandbox, "table=0,priority=10,ip,in_port=1,actions=bpf(count),output:2")

    got = _udp(sandbox, "h1", "h2", 25)
    assert got["received"] == got["sent"] == 25
    assert got["ttls"] == {"64": 25}

    flows = [f for f in _dp_flows(sandbox.switch) if "bpf(" in f]
    assert len(flows) == 1 and "recirc(" not in flows[0], flows
    assert all(f.startswith("recirc_id(0)") for f in _dp_flows(sandbox.switch))

    listed = json.loads(cli("list", "--json", *switch_arg(sandbox)).stdout)
    assert [(a["name"], a["verdict"], a["reclassify"]) for a in listed] == [
        ("count", "read_only", "no")
    ]
    assert listed[0]["packets"] == 25 and listed[0]["errors"] == 0
    # The program's own map agrees with the switch: port 1 ran 25 packets. It
    # runs in-process, so that map is the switch's, decoded with the BTF of
    # the kernel's map beside the program, which counted nothing.
    r = cli("maps", "count", *switch_arg(sandbox), "--json")
    assert r.returncode == 0, r.stderr
    (dump,) = json.loads(r.stdout)
    assert dump["kept_by"] == "switch" and dump["name"] == "port_stats"
    assert [(e["key"], e["value"]["packets"]) for e in dump["entries"]] == [(1, 25)]
    r = cli("maps", "count", "--root", str(sandbox.switch.pin_root), "--json")
    assert json.loads(r.stdout)[0]["entries"] == []
    r = cli("maps", "count", *switch_arg(sandbox))
    assert "map port_stats (hash, 1 shown of max 1024)" in r.stdout, r.stdout
    assert "1: {packets = 25, bytes = " in r.stdout, r.stdout


def test_writing_action_is_reclassified_and_matched_by_a_later_table(sandbox: Sandbox) -> None:
    sandbox.start(hosts=2)
    r = cli("register", "ttl", str(ACTIONS / "dec_ttl.c"), *switch_arg(sandbox))
    assert r.returncode == 0, r.stderr
    assert (
        "re-classify lazily: the switch recirculates only before a step that reads nw_ttl "
        "(ip.ttl, ipv6.hop_limit): reclassify=lazy fields=nw_ttl"
    ) in r.stdout, r.stdout
    assert re.search(r"dec_ttl\.c:\d+\): store writes packet bytes 22\.\.30 \(ip\.ttl\)", r.stdout)
    _forwarding(
        sandbox,
        "table=0,priority=10,ip,in_port=1,actions=bpf(ttl),resubmit(,1)",
        table1=(
            "table=1,priority=10,ip,nw_ttl=63,actions=output:2",
            "table=1,priority=0,actions=drop",
        ),
    )
    got = _udp(sandbox, "h1", "h2", 10)
    # Table 1 forwards only TTL 63, which only the program wrote.
    assert got["received"] == 10 and got["ttls"] == {"63": 10}
    flows = _dp_flows(sandbox.switch)
    assert any(
        re.search(r"actions:bpf\(id=\d+,arg=0,in_port=1\),recirc\(0x\w+\)", f) for f in flows
    )
    assert any(not f.startswith("recirc_id(0)") and "ttl=63" in f for f in flows), flows


def test_payload_only_writer_is_not_reclassified(switch: DummySwitch, bpffs_root: Path) -> None:
    """Also: --switch names a switch that is not the sandbox (netdev-dummy ports here)."""
    switch.add_bridge(ports=2)
    at = ["--switch", f"unix:{switch.run_dir / 'db.sock'}"]
    r = cli("register", "poke", str(PROGS / "payload_poke.c"), *at)
    assert r.returncode == 0, r.stderr
    assert "writes payload" in r.stdout
    assert "no re-classification (writes outside the flow key only): reclassify=no" in r.stdout
    for flow in (
        "table=0,in_port=1,ip,actions=bpf(poke),resubmit(,1)",
        "table=1,udp,tp_dst=53,actions=output:2",
    ):
        switch.ofctl("add-flow", "br0", flow)
    frame = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=1000, dport=53, chksum=0)
        / Raw(b"hello")
    )
    switch.send("p1", bytes(frame))
    switch.settle()
    out = rdpcap(str(switch.run_dir / "p2-tx.pcap"))
    assert [bytes(p) for p in out] == [bytes(frame)[:42] + b"Xello"]
    flows = [ln for ln in switch.appctl("dpctl/dump-flows").splitlines() if "bpf(" in ln]
    assert len(flows) == 1 and "recirc(" not in flows[0], flows


def test_payload_scrub_masks_without_reclassification(
    switch: DummySwitch, bpffs_root: Path
) -> None:
    """The bundled payload_scrub, proven to write payload and udp.csum only (issue 4).

    OVS runs it without recirculating; UDP over IPv4 and IPv6 comes out
    masked with a right checksum (scapy's, computed from scratch), and a
    frame behind an IPv6 extension header, which it documents it leaves
    alone, comes out as it went in.
    """
    switch.add_bridge(ports=2)
    at = ["--switch", str(switch.run_dir)]
    r = cli("register", "scrub", str(ACTIONS / "payload_scrub.c"), *at)
    assert r.returncode == 0, r.stderr
    assert "no re-classification (writes outside the flow key only): reclassify=no" in r.stdout
    for flow in (
        "table=0,in_port=1,actions=bpf(scrub),resubmit(,1)",
        "table=1,udp,tp_dst=9,actions=output:2",
        "table=1,udp6,tp_dst=9,actions=output:2",
    ):
        switch.ofctl("add-flow", "br0", flow)
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v4 = IP(src="10.0.0.1", dst="10.0.0.2")
    v6 = IPv6(src="fd00::1", dst="fd00::2")
    udp = UDP(sport=4000, dport=9)
    said, masked = b"the SECRET is out", b"the ****** is out"
    cases = [
        (eth / v4 / udp / said, eth / v4 / udp / masked),
        (eth / v6 / udp / said, eth / v6 / udp / masked),
        (eth / v6 / IPv6ExtHdrHopByHop() / udp / said,) * 2,
    ]
    for sent, _ in cases:
        switch.send("p1", bytes(sent))
    switch.settle()
    out = rdpcap(str(switch.run_dir / "p2-tx.pcap"))
    assert [bytes(p) for p in out] == [bytes(want) for _, want in cases]
    flows = [ln for ln in switch.appctl("dpctl/dump-flows").splitlines() if "bpf(" in ln]
    assert flows and not any("recirc(" in f for f in flows), flows


def test_unrunnable_pass_forwards_runt_frames_that_drop_drops(
    switch: DummySwitch, bpffs_root: Path
) -> None:
    """A runt IPv4 frame, which the kernel refuses to run any program on (EINVAL).

    With --unrunnable pass it goes on byte for byte, as a mirror must let it;
    with the default it is dropped and counted as an error. Both count it as
    unrunnable; the program itself never saw it. (The kernel's executor: the
    in-process one runs any frame, as the last part shows.)
    """
    switch.add_bridge(ports=4)
    at = ["--switch", str(switch.run_dir)]
    counter = str(ACTIONS / "port_counter.c")
    kernel = ["--executor", "kernel"]
    r = cli("register", "mirror", counter, "--unrunnable", "pass", *kernel, *at)
    assert r.returncode == 0, r.stderr
    assert "unrunnable=pass: packets the kernel cannot run it on go on unchanged\n" in r.stdout
    assert cli("register", "strict", counter, *kernel, *at).returncode == 0
    assert cli("register", "inproc", counter, *at).returncode == 0
    registered = switch.registered()
    assert (registered["mirror"].unrunnable, registered["strict"].unrunnable) == ("pass", "drop")
    switch.ofctl("add-flow", "br0", "in_port=1,actions=bpf(mirror),output:2")
    switch.ofctl("add-flow", "br0", "in_port=3,actions=bpf(strict),output:2")
    switch.ofctl("add-flow", "br0", "in_port=4,actions=bpf(inproc),output:2")

    # Ethertype IPv4, 2 bytes of it: shorter than an IPv4 header.
    runt = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x0800) / b"\x45\x00")
    normal = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=1000, dport=53)
        / Raw(b"hello")
    )
    assert len(runt) == 16
    switch.send("p1", runt)
    switch.send("p1", normal)
    switch.send("p3", runt)
    switch.settle()
    switch.send("p4", runt)
    switch.settle()

    out = rdpcap(str(switch.run_dir / "p2-tx.pcap"))
    assert [bytes(p) for p in out] == [runt, normal, runt]  # nothing from p3
    listed = {a["name"]: a for a in json.loads(cli("list", "--json", *at).stdout)}
    assert listed.pop("inproc")["runs_on"] == "inproc"
    assert action_packets(switch, "inproc", port=4) == 1  # it ran on the runt
    got = {
        name: {k: a[k] for k in ("unrunnable", "packets", "errors", "unrunnable_packets")}
        for name, a in listed.items()
    }
    assert got == {
        "mirror": {"unrunnable": "pass", "packets": 2, "errors": 0, "unrunnable_packets": 1},
        "strict": {"unrunnable": "drop", "packets": 1, "errors": 1, "unrunnable_packets": 1},
    }
    record = read_record(switch, "mirror")
    assert record is not None and record.unrunnable == "pass"
    # The program ran on the normal frame only.
    assert action_packets(switch, "mirror", port=1) == 1
    text = cli("list", *at).stdout
    assert re.search(r"^mirror .* 1 passed ", text, re.M) and re.search(
        r"^strict .* 1 dropped ", text, re.M
    ), text

    # A replace states its own choice: without --unrunnable, runt frames drop again.
    assert cli("replace", "mirror", counter, *kernel, *at).returncode == 0
    assert switch.registered()["mirror"].unrunnable == "drop"
    switch.settle()
    switch.send("p1", runt)
    switch.settle()
    assert len(rdpcap(str(switch.run_dir / "p2-tx.pcap"))) == 3
    assert switch.counters("mirror")["errors"] == 1


def test_reclassify_yes_forces_recirculation_of_a_read_only_action(
    switch: DummySwitch, bpffs_root: Path
) -> None:
    """--reclassify yes (for benchmarks) makes the decision more conservative, never less."""
    switch.add_bridge(ports=2)
    at = ["--switch", str(switch.run_dir)]
    r = cli("register", "count", str(ACTIONS / "port_counter.c"), "--reclassify", "yes", *at)
    assert r.returncode == 0, r.stderr
    assert "verdict read_only" in r.stdout
    assert "forced with --reclassify yes" in r.stdout and "reclassify=yes" in r.stdout
    assert switch.registered()["count"].reclassify
    record = read_record(switch, "count")
    assert record is not None and record.reclassify and record.reclassify_forced
    switch.ofctl("add-flow", "br0", "table=0,in_port=1,ip,actions=bpf(count),output:2")
    frame = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"x" * 20)
    switch.send("p1", bytes(frame))
    switch.settle()
    flows = [ln for ln in switch.appctl("dpctl/dump-flows").splitlines() if "bpf(" in ln]
    assert len(flows) == 1 and "recirc(" in flows[0], flows
    # Replacing without the override goes back to the proof's decision.
    r = cli("replace", "count", str(ACTIONS / "port_counter.c"), *at)
    assert r.returncode == 0, r.stderr
    assert not switch.registered()["count"].reclassify
    # There is no way to force no.
    r = cli("replace", "count", str(ACTIONS / "dec_ttl.c"), "--reclassify", "no", *at)
    assert r.returncode == 2 and "invalid choice: 'no'" in r.stderr


def test_failures_leave_nothing_behind(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.start()
    sw = sandbox.switch
    at = switch_arg(sandbox)

    def nothing_left(name: str) -> None:
        assert name not in sw.registered()
        assert not (sw.pin_root / name).exists()
        assert read_record(sw, name) is None

    # The verifier's reason and the C line.
    r = cli("register", "bad", str(KERNEL_PROGS / "reject_pkt.c"), *at)
    assert r.returncode == 3
    assert "reject_pkt.c:10" in r.stderr and "invalid access to packet" in r.stderr
    nothing_left("bad")

    # Unknown effects: refused without --allow-unknown, then re-classifying everything.
    r = cli("register", "jump", str(PROGS / "tail_call.c"), *at)
    assert r.returncode == 2
    line = _error_line(r.stderr)
    assert "could not prove its effects" in line and "--allow-unknown" in line
    assert "bpf_tail_call" in line
    nothing_left("jump")
    r = cli("register", "jump", str(PROGS / "tail_call.c"), "--allow-unknown", *at)
    assert r.returncode == 0, r.stderr
    assert sw.registered()["jump"].reclassify and sw.registered()["jump"].fields == ["unknown"]

    # A name taken: refused, and the first registration is untouched.
    before = sw.registered()["jump"]
    r = cli("register", "jump", str(ACTIONS / "port_counter.c"), *at)
    assert r.returncode == 2 and "already registered" in _error_line(r.stderr)
    assert "extframe replace jump" in r.stderr
    assert sw.registered()["jump"] == before

    # Names the switch would refuse, files that are not actions, XDP programs.
    pinned = pins(sw.pin_root)
    for name, action, words in (
        ("no.dots", ACTIONS / "port_counter.c", "invalid action name"),
        ("a_name_that_is_too_long", ACTIONS / "port_counter.c", "1 to 15"),
        ("missing", tmp_path / "missing.c", "no such file"),
        ("xdp", KERNEL_PROGS / "xdp_drop_short.c", "tc programs"),
    ):
        r = cli("register", name, str(action), *at)
        assert r.returncode == 2 and words in _error_line(r.stderr), r.stderr
        assert name not in sw.registered() and pins(sw.pin_root) == pinned
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"\x7fELF not really")
    r = cli("register", "junk", str(junk), *at)
    assert r.returncode == 2 and "junk.o" in _error_line(r.stderr)
    nothing_left("junk")

    # bpffs missing.
    r = cli(
        "register", "count", str(ACTIONS / "port_counter.c"), *at,
        env={"EXTFRAME_BPFFS": str(tmp_path / "nobpf")},
    )  # fmt: skip
    assert r.returncode == 2 and "bpffs is not mounted" in _error_line(r.stderr)
    nothing_left("count")

    # Unknown names for the other commands.
    for args in (("replace", "nope", str(ACTIONS / "port_counter.c")), ("unregister", "nope")):
        r = cli(*args, *at)
        assert r.returncode == 2
        assert "nope" in _error_line(r.stderr) and "register" in _error_line(r.stderr)

    # The switch stopped: every command says how to start one.
    assert pins(sw.pin_root) == ["jump/map/jump", "jump/prog/tail_call"]
    sandbox.stop()
    assert not sw.pin_root.exists()
    for args in (
        ("register", "count", str(ACTIONS / "port_counter.c")),
        ("list",),
        ("unregister", "jump"),
    ):
        r = cli(*args, *at)
        assert r.returncode == 2
        assert "no Open vSwitch is running" in _error_line(r.stderr), r.stderr
    assert not sw.pin_root.exists()


def test_unregister_refuses_while_flows_use_the_action(sandbox: Sandbox) -> None:
    sandbox.start(hosts=2)
    at = switch_arg(sandbox)
    assert cli("register", "count", str(ACTIONS / "port_counter.c"), *at).returncode == 0
    _forwarding(sandbox, "table=0,priority=10,ip,in_port=1,actions=bpf(count),output:2")
    r = cli("unregister", "count", *at)
    assert r.returncode == 2
    line = _error_line(r.stderr)
    assert "used by 1 flow(s)" in line and "bpf(count)" in line and "--force" in line
    assert "count" in sandbox.switch.registered()

    r = cli("unregister", "count", "--force", *at)
    assert r.returncode == 0, r.stderr
    assert "1 flow(s) still name it" in r.stdout
    assert sandbox.switch.registered() == {} and pins(sandbox.switch.pin_root) == []
    # The flow now fails translation: its packets are dropped, not forwarded.
    got = _udp(sandbox, "h1", "h2", 5)
    assert got["received"] == 0

    # Without flows, unregister just works; and the flow helper deletes flows.
    assert cli("register", "count", str(ACTIONS / "port_counter.c"), *at).returncode == 0
    assert cli("flow", "del", "in_port=1", *at).returncode == 0
    assert cli("unregister", "count", *at).returncode == 0
    assert pins(sandbox.switch.pin_root) == []


@pytest.mark.parametrize("executor", ["kernel", "inproc"])
def test_replace_under_traffic_loses_nothing_and_retires_the_old_program(
    sandbox: Sandbox, tmp_path: Path, executor: str
) -> None:
    """In the kernel each program has its own maps: a replaced one's count stops. In
    the switch the map is kept across the replacements (same definition): it counts
    every packet once."""
    sandbox.start(hosts=2)
    at = [*switch_arg(sandbox), "--executor", executor]
    sw = sandbox.switch
    obj = tmp_path / "port_counter.o"
    assert cli("build", str(ACTIONS / "port_counter.c"), "-o", str(obj)).returncode == 0
    assert cli("register", "count", str(obj), *at).returncode == 0
    assert sw.registered()["count"].runs_on == executor
    _forwarding(sandbox, "table=0,priority=10,ip,in_port=1,actions=bpf(count),output:2")
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")

    rx = traffic.Receiver(h2, 9000, idle=2.0, timeout=60)
    rate, count = 1000, 12000  # 12 s: room for 6 replacements on a slow machine
    sender = subprocess.Popen(
        h1.command(
            sys.executable, "-m", "extframe.ovs.traffic", "send", "--to", h2.ip,
            "--port", "9000", "--count", str(count), "--rate", str(rate),
        ),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    retired: list[tuple[LoadedMap, int]] = []
    try:
        time.sleep(0.3)
        for _ in range(6):
            assert sender.poll() is None, "the traffic ended before the replacements did"
            old = port_stats(sw.pin_root / "count")
            r = cli("replace", "count", str(obj), *at)
            assert r.returncode == 0, r.stderr
            retired.append((old, port_packets(old)))
            if executor == "inproc":  # the switch's map, kept: it grows
                assert action_packets(sw, "count") > 0
            time.sleep(0.2)
        out, _ = sender.communicate(timeout=60)
        got = rx.result()
    finally:
        sender.kill()
        rx.stop()
    sent = json.loads(out.strip().splitlines()[-1])["sent"]
    assert sent == count
    assert got["received"] == got["distinct"] == sent, got
    if executor == "kernel":
        # Each replaced program ran packets before its replacement and none after.
        assert all(n > 0 for _, n in retired), retired
        for m, n in retired:
            assert port_packets(m) == n
            os.close(m.fd)
    else:
        # Its kernel maps never count; the one map the switch kept saw each packet once.
        assert all(n == 0 for _, n in retired), retired
        for m, _ in retired:
            os.close(m.fd)
        assert action_packets(sw, "count") == sent
    listed = json.loads(cli("list", "--json", *switch_arg(sandbox)).stdout)
    assert listed[0]["replaced"] == 6 and listed[0]["errors"] == 0
    assert sw.appctl("bpf/stale").strip() == "0"
    assert pins(sw.pin_root) == ["count/map/port_stats", "count/prog/port_counter"]


def test_replace_changes_reclassification_with_the_proof(sandbox: Sandbox) -> None:
    sandbox.start(hosts=2)
    at = switch_arg(sandbox)
    assert cli("register", "act", str(ACTIONS / "port_counter.c"), *at).returncode == 0
    assert not sandbox.switch.registered()["act"].reclassify
    r = cli("replace", "act", str(ACTIONS / "dec_ttl.c"), *at, "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["verdict"] == "writes" and record["reclassify"] and record["replaced"] == 1
    reg = sandbox.switch.registered()["act"]
    assert reg.reclassify_mode == "lazy" and reg.fields == ["nw_ttl"]
    _forwarding(sandbox, "table=0,priority=10,ip,in_port=1,actions=bpf(act),output:2")
    got = _udp(sandbox, "h1", "h2", 5)
    assert got["ttls"] == {"63": 5}
    # A replacement the verifier rejects leaves the registered program in place.
    r = cli("replace", "act", str(KERNEL_PROGS / "reject_pkt.c"), *at)
    assert r.returncode == 3
    assert sandbox.switch.registered()["act"] == reg
    assert pins(sandbox.switch.pin_root) == ["act/prog/dec_ttl"]


def test_a_record_speaks_only_for_the_program_it_proved(
    switch: DummySwitch, bpffs_root: Path
) -> None:
    """After a raw bpf/del and bpf/add of another program, extframe claims nothing for it."""
    switch.add_bridge(ports=2)
    at = ["--switch", str(switch.run_dir)]
    r = cli("register", "ttl", str(ACTIONS / "dec_ttl.c"), *at)
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(cli("list", "--json", *at).stdout)
    assert (row["registered_by_extframe"], row["verdict"]) == (True, "writes")
    record = read_record(Switch(switch.run_dir), "ttl")
    assert record is not None and record.prog_id == row["prog_id"]
    record_file = switch.run_dir / "extframe" / "ttl.json"
    assert (os.stat(record_file).st_mode & 0o777, os.stat(record_file.parent).st_mode & 0o777) == (
        0o600,
        0o700,
    )
    assert record.prog_tag is not None and len(record.prog_tag) == 16

    r = cli("load", str(ACTIONS / "port_counter.c"), "--name", "other")
    assert r.returncode == 0, r.stderr
    other = bpffs_root / "other" / "prog" / "port_counter"
    switch.appctl("bpf/del", "ttl")
    switch.appctl("bpf/add", "ttl", str(other), "reclassify=no")
    (row,) = json.loads(cli("list", "--json", *at).stdout)
    assert row["prog_id"] != record.prog_id
    assert row["registered_by_extframe"] is False
    assert (row["verdict"], row["source"], row["maps"]) == (None, None, [])
    text = cli("list", *at).stdout
    assert "dec_ttl.c" not in text and "writes" not in text, text
    # Replacing that program starts a history of its own: nothing of the old record carries.
    r = cli("replace", "ttl", str(ACTIONS / "dec_ttl.c"), *at)
    assert r.returncode == 0, r.stderr
    replaced = read_record(Switch(switch.run_dir), "ttl")
    assert replaced is not None and replaced.registered_at > record.registered_at
    assert replaced.replaced == 1
    switch.appctl("bpf/del", "ttl")
    assert cli("unload", "other").returncode == 0


def test_restore_registers_again_what_a_restarted_switch_lost(
    switch: DummySwitch, bpffs_root: Path
) -> None:
    """Any switch, not only the sandbox: a restart of ovs-vswitchd empties its registry."""
    switch.add_bridge(ports=2)
    at = ["--switch", str(switch.run_dir)]
    for name, action in (("ttl", "dec_ttl.c"), ("cnt", "port_counter.c")):
        r = cli("register", name, str(ACTIONS / action), *at)
        assert r.returncode == 0, r.stderr
    before = switch.registered()
    r = cli("restore", *at)
    assert r.returncode == 0, r.stderr
    assert "re-registered on" in r.stdout and "nothing (the switch had every action" in r.stdout

    pid = switch.pid("ovs-vswitchd")
    assert pid is not None
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while switch.pid("ovs-vswitchd") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    switch.start_vswitchd("--enable-dummy=override", "--disable-system")
    switch.wait_for_registry()
    assert switch.registered() == {}
    # A switch that cannot take them now (no descriptor left): nothing is lost.
    pid = switch.pid("ovs-vswitchd")
    assert pid is not None
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    # One descriptor to spare: the control connection gets it, a program does not.
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds + 1, hard))
    r = cli("restore", *at, "--json")
    assert r.returncode == 1, r.stderr  # not done: kept for another try
    out = json.loads(r.stdout)
    assert (out["restored"], out["dropped"], out["removed"]) == ([], [], [])
    assert [f["name"] for f in out["failed"]] == ["cnt", "ttl"]
    assert "out of file descriptors" in out["failed"][0]["why"]
    assert "not yet cnt" in cli("restore", *at).stdout  # kept, and said so
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    r = cli("restore", *at, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "switch": str(switch.run_dir),
        "restored": ["cnt", "ttl"],
        "dropped": [],
        "failed": [],
        "removed": [],
    }
    assert switch.registered() == before
    # The restored ttl runs: a TTL-64 packet leaves with 63, re-classified.
    switch.ofctl("add-flow", "br0", "in_port=1,ip,actions=bpf(ttl),output:2")
    frame = Ether() / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64) / UDP(dport=9)
    switch.send("p1", bytes(frame))
    switch.settle()
    (out,) = rdpcap(str(switch.run_dir / "p2-tx.pcap"))
    assert out[IP].ttl == 63


def test_restore_never_removes_through_a_planted_link(
    switch: DummySwitch, bpffs_root: Path, tmp_path: Path
) -> None:
    """The switch's pin folder in bpffs is predictable: a link there must stop restore."""
    switch.add_bridge(ports=1)
    victim = tmp_path / "victim"
    (victim / "precious").mkdir(parents=True)
    sw = Switch(switch.run_dir)
    sw.pin_root.parent.mkdir(mode=0o700, exist_ok=True)
    sw.pin_root.symlink_to(victim)
    try:
        for command in (("restore",), ("unregister", "precious")):
            r = cli(*command, "--switch", str(switch.run_dir))
            assert r.returncode == 2, r.stdout + r.stderr
            assert "is a symbolic link" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert (victim / "precious").is_dir()
    finally:
        sw.pin_root.unlink()
