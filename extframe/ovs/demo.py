"""The whole loop on a sandbox switch, with real packets between real hosts.

Starts a private sandbox (patched ovs-vswitchd, bridge br0 on the userspace
datapath) with hosts h1 (10.0.0.1, port 1) and h2 (10.0.0.2, port 2) in
network namespaces, then:

1. registers two bundled actions, each proven by extframe's analysis:
   policer (read-only, stateful: a token bucket per input port) and
   dec_ttl (writes ip.ttl), and gives port 1 a small policer bucket;
2. installs a two-table pipeline: table 0 runs policer on every IPv4
   packet and dec_ttl only on h1's, table 1 forwards to h2 only packets
   whose TTL is 63, a value only dec_ttl writes;
3. sends ping and UDP both ways, and reports what each host received,
   the datapath flows (re-classification only after the writing action)
   and the switch's counters;
4. stops the sandbox: no process, pin, namespace or interface is left,
   also after Ctrl-C.

It checks its own claims and exits 1 if one does not hold.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from extframe.errors import MapError, OvsError
from extframe.ovs import registry, traffic
from extframe.ovs.maps import open_action_map
from extframe.ovs.sandbox import Host, Sandbox
from extframe.ovs.switch import Switch

ACTIONS = Path(__file__).resolve().parents[2] / "actions"

#: Port 1's bucket: 3000 bytes, refilled at 20 kB/s. A burst of 40 UDP
#: datagrams of 242-byte frames overflows it; three pings do not.
POLICER_RATE = 20_000
POLICER_BURST = 3_000
BURST = 40
UDP_PORT = 9000

FLOWS = [
    "table=0,priority=100,arp,actions=NORMAL",
    "table=0,priority=10,ip,in_port=1,actions=bpf(policer),bpf(dec_ttl),resubmit(,1)",
    "table=0,priority=10,ip,in_port=2,actions=bpf(policer),resubmit(,1)",
    "table=1,priority=10,ip,nw_dst=10.0.0.2,nw_ttl=63,actions=output:2",
    "table=1,priority=10,ip,nw_dst=10.0.0.1,actions=output:1",
    "table=1,priority=0,actions=drop",
]


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up as Ctrl-C does."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _configure_policer(switch: Switch, name: str, port: int, rate: int, burst: int) -> None:
    """policer_config[port] = {rate_bytes_per_sec, burst_bytes} (actions/policer.c).

    In the map the program reads: the switch's when it runs in-process.
    """
    try:
        with open_action_map(switch, name, "policer_config") as config:
            config.update(struct.pack("=I", port), struct.pack("=QII", rate, burst, 0))
    except MapError as e:
        raise OvsError(f"cannot configure policer: {e}") from None


def _source_text(source: str | None) -> str:
    """The C line ``file.c:N`` names, from actions/."""
    if not source or ":" not in source:
        return ""
    name, _, line = source.rpartition(":")
    try:
        lines = (ACTIONS / name).read_text().splitlines()
        return lines[int(line) - 1].strip()
    except (OSError, ValueError, IndexError):
        return ""


def _datapath_flows(sandbox: Sandbox) -> list[str]:
    out = sandbox.switch.appctl("dpctl/dump-flows", "--names")
    flows = [line.strip() for line in out.splitlines() if line.startswith("recirc_id")]
    for h in sandbox.hosts():  # port names as the reader knows them
        flows = [re.sub(rf"\b{re.escape(h.ifname)}\b", h.name, f) for f in flows]
    return flows


class Check(TypedDict):
    ok: bool
    claim: str


class DemoResult(TypedDict):
    """What the demo did and saw; the keys after ``checks`` come as it gets there."""

    run_dir: str
    checks: list[Check]
    hosts: NotRequired[list[dict[str, Any]]]
    actions: NotRequired[list[dict[str, Any]]]
    flows: NotRequired[list[str]]
    traffic: NotRequired[list[dict[str, Any]]]
    datapath_flows: NotRequired[list[str]]
    counters: NotRequired[list[dict[str, Any]]]
    left_behind: NotRequired[list[str]]
    failed: NotRequired[int]


def cmd_demo(args: argparse.Namespace) -> DemoResult:
    run_dir = Path(args.run_dir) if args.run_dir else Path(f"/run/extframe/demo-{os.getpid()}")
    sandbox = Sandbox(run_dir, prefix=f"efd{os.getpid() % 100000}")
    result: DemoResult = {"run_dir": str(run_dir), "checks": []}
    with _terminate_as_interrupt():
        try:
            sandbox.start(hosts=2)
            _run(sandbox, result)
        finally:
            if not args.keep:
                sandbox.stop()
                result["left_behind"] = sandbox.leftovers()
                if not args.run_dir and not result["left_behind"]:
                    shutil.rmtree(run_dir, ignore_errors=True)
    result["failed"] = sum(not c["ok"] for c in result["checks"]) + len(
        result.get("left_behind", [])
    )
    return result


def _burst(src: Host, dst: Host) -> dict[str, Any]:
    """BURST UDP datagrams from ``src`` to ``dst`` at once: what was sent, what arrived."""
    rx = traffic.Receiver(dst, UDP_PORT, idle=1.0, timeout=20)
    try:
        sent = traffic.send(src, dst.ip, UDP_PORT, BURST, size=200)
        got = rx.result()
    finally:
        rx.stop()
    what = f"{src.name} → {dst.name}: {BURST} UDP datagrams at once"
    return {"what": what, "at": dst.name} | sent | got


def _check(result: DemoResult, ok: bool, claim: str) -> None:
    result["checks"].append({"ok": bool(ok), "claim": claim})


def _run(sandbox: Sandbox, result: DemoResult) -> None:
    sw = sandbox.switch
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    result["hosts"] = [
        {"name": h.name, "ip": h.ip, "port": h.ofport, "netns": h.netns} for h in (h1, h2)
    ]

    records = [
        registry.register(sw, "policer", ACTIONS / "policer.c"),
        registry.register(sw, "dec_ttl", ACTIONS / "dec_ttl.c"),
    ]
    _configure_policer(sw, "policer", 1, POLICER_RATE, POLICER_BURST)
    result["actions"] = [
        r.model_dump(mode="json")
        | {
            "decision": r.decision(),
            "arguments": r.arguments(),
            "lines": [
                {"source": w["source"], "text": _source_text(w["source"]), "fields": w["fields"]}
                for w in r.writes
            ],
        }
        for r in records
    ]
    _check(result, records[0].verdict == "read_only", "policer is proved read-only")
    _check(result, records[0].reclassify_mode == "no", "policer is registered with reclassify=no")
    _check(
        result,
        (records[1].reclassify_mode, records[1].ovs_fields) == ("lazy", ["nw_ttl"]),
        "dec_ttl is registered with reclassify=lazy fields=nw_ttl",
    )

    for flow in FLOWS:
        sw.ofctl("add-flow", "br0", flow)
    result["flows"] = FLOWS

    runs: list[dict[str, Any]] = []
    pings = traffic.ping(h1, h2.ip, count=3)
    runs.append({"what": "h1 ping h2 (3 echo requests)", "at": "h1"} | pings)
    _check(result, pings["received"] == 3, "h1's pings reach h2 and come back")

    time.sleep(POLICER_BURST / POLICER_RATE)  # the bucket is full again
    got = _burst(h1, h2)
    runs.append(got)
    _check(result, got["ttls"].keys() <= {"63"}, "h2 receives h1's datagrams with TTL 63")
    _check(
        result,
        0 < got["received"] < got["sent"],
        "the policer passes a bucket's worth of h1's burst and drops the rest",
    )

    got_back = _burst(h2, h1)
    runs.append(got_back)
    _check(
        result,
        got_back["received"] == got_back["sent"] and got_back["ttls"].keys() <= {"64"},
        "h2's datagrams (port 2 has no bucket, no dec_ttl) all reach h1 with TTL 64",
    )
    result["traffic"] = runs

    sw.appctl("revalidator/wait")
    flows = _datapath_flows(sandbox)
    result["datapath_flows"] = flows
    from_h2 = [f for f in flows if "in_port(h2)" in f and "recirc_id(0)" in f]
    from_h1 = [f for f in flows if "in_port(h1)" in f and "recirc_id(0)" in f]
    recirculated = [f for f in flows if not f.startswith("recirc_id(0)")]
    _check(
        result,
        bool(from_h2) and all("recirc(" not in f for f in from_h2),
        "after the read-only policer alone (h2's packets) no datapath flow recirculates",
    )
    _check(
        result,
        bool(from_h1)
        and all(re.search(r"bpf\(id=\d+[^)]*\),recirc\(", f) for f in from_h1)
        and any("ttl=63" in f for f in recirculated),
        "after dec_ttl (h1's packets) the datapath recirculates and re-classifies",
    )

    listed = registry.list_actions(sw)
    result["counters"] = listed
    policer = next(a for a in listed if a["name"] == "policer")
    _check(result, policer["drops"] > 0, "the switch counts the policer's drops")


# ---------------------------------------------------------------- text


def _short_flow(flow: str) -> str:
    """A datapath flow with only what tells the story: recirc id, port, TTL, actions."""
    keep = []
    for key in ("recirc_id", "in_port"):
        m = re.search(rf"{key}\(([^)]*)\)", flow)
        if m:
            keep.append(f"{key}({m[1]})")
    m = re.search(r"ipv4\([^)]*ttl=(\d+)", flow)
    if m:
        keep.append(f"ttl={m[1]}")
    actions = flow.split("actions:", 1)[-1]
    return f"{','.join(keep)} ... actions:{actions}"


def text_demo(r: DemoResult) -> str:
    out = [
        "extframe demo: custom OVS actions, proven by their analysis, on a real switch",
        "",
        f"Sandbox switch: patched ovs-vswitchd in {r['run_dir']}, bridge br0, userspace datapath.",
    ]
    for h in r.get("hosts", []):
        out.append(f"  {h['name']}  {h['ip']}  port {h['port']}  (namespace {h['netns']})")
    if r.get("actions"):
        out += ["", "1. Actions, registered with `extframe register NAME actions/NAME.c`:"]
        for a in r["actions"]:
            fields = ", ".join(a["fields"]) or "nothing"
            out.append(f"  {a['name']}: verdict {a['verdict']}, writes {fields}")
            out.append(f"    -> {a['decision']} ({a['arguments']})")
            for line in a["lines"]:
                out.append(
                    f"    {line['source']}: {line['text']}    <- writes {', '.join(line['fields'])}"
                )
            if a["verdict"] == "read_only":
                proof = next((x for x in a["reasons"] if x.startswith("proved")), "")
                out.append(f"    {proof}")
    if r.get("flows"):
        out += ["", "2. OpenFlow pipeline (ovs-ofctl add-flow br0 ...):"]
        out += [f"  {f}" for f in r["flows"]]
    if r.get("traffic"):
        out += ["", "3. Traffic:"]
        for t in r["traffic"]:
            ttls = ", ".join(f"TTL {k} x{v}" for k, v in t["ttls"].items()) or "-"
            out.append(f"  {t['what']}: {t['at']} received {t['received']} of {t['sent']} ({ttls})")
    if r.get("datapath_flows"):
        out += ["", "4. Datapath flows (ovs-appctl dpctl/dump-flows, shortened):"]
        out += [f"  {_short_flow(f)}" for f in r["datapath_flows"]]
        out.append(
            "  recirc(...) follows only bpf(dec_ttl): h2's packets ran the read-only policer "
            "and stayed in one megaflow."
        )
    if r.get("counters"):
        out += ["", "5. Counters (extframe list):"]
        for a in r["counters"]:
            avg = a["run_time_ns"] // a["packets"] if a["packets"] else 0
            where = "in-process" if a.get("runs_on") == "inproc" else "in the kernel"
            out.append(
                f"  {a['name']}: {a['packets']} packets, {a['drops']} dropped by the program, "
                f"{a['errors']} errors, {avg} ns per run ({where})"
            )
    out += ["", "Checks:"]
    out += [f"  [{'ok' if c['ok'] else 'FAILED'}] {c['claim']}" for c in r["checks"]]
    if "left_behind" in r:
        out.append(
            "Cleaned up: sandbox stopped; no process, pin, namespace or interface left."
            if not r["left_behind"]
            else "Clean-up left behind: " + ", ".join(r["left_behind"])
        )
    return "\n".join(out)
