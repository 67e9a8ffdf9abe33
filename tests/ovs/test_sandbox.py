"""extframe sandbox start | stop | status, and extframe demo, end to end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extframe.ovs import traffic
from extframe.ovs.sandbox import Sandbox
from tests.conftest import ROOT, User, cli
from tests.ovs.conftest import pins, switch_arg

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]


def test_start_is_idempotent_and_stop_leaves_nothing(sandbox: Sandbox) -> None:
    at = ["--run-dir", str(sandbox.run_dir)]
    # The CLI's sandbox has the fixture's prefix once the fixture's object started it.
    first = sandbox.start(hosts=1)
    assert first["started"] is True
    r = cli("sandbox", "start", "--hosts", "2", *at, "--json")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert again["started"] is False
    assert again["ovs_vswitchd_pid"] == first["ovs_vswitchd_pid"]
    assert [h["name"] for h in again["hosts"]] == ["h1", "h2"]
    assert sandbox.switch.vsctl("list-ports", "br0").split() == [
        h["ifname"] for h in again["hosts"]
    ]
    # The hosts are real: h2 answers h1 once a flow forwards.
    sandbox.switch.ofctl("add-flow", "br0", "actions=NORMAL")
    assert traffic.ping(sandbox.host("h1"), "10.0.0.2", count=1)["received"] == 1

    status = json.loads(cli("sandbox", "status", *at, "--json").stdout)
    assert status["running"] and status["bridge"] == "br0"
    assert (
        cli("register", "c", "actions/port_counter.c", "--switch", str(sandbox.run_dir)).returncode
        == 0
    )

    r = cli("sandbox", "stop", *at)
    assert r.returncode == 0, r.stderr
    assert "removed hosts" in r.stdout and "removed 2 pins" in r.stdout
    assert sandbox.leftovers() == []
    assert sorted(p.name for p in sandbox.run_dir.iterdir()) == [
        "ovs-vswitchd.log",
        "ovsdb-server.log",
    ]
    r = cli("sandbox", "stop", *at)
    assert r.returncode == 0 and "was not running" in r.stdout
    r = cli("sandbox", "status", *at)
    assert r.returncode == 0 and "not running" in r.stdout


def _kill9(sandbox: Sandbox, *daemons: str) -> None:
    for daemon in daemons:
        pid = sandbox.switch.pid(daemon)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(sandbox.switch.pid(d) for d in daemons) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sandbox.switch.running()


def _netns_inode(name: str) -> int:
    return os.stat(f"/run/netns/{name}").st_ino


def test_start_after_ovs_vswitchd_died_restarts_it_and_registers_the_actions_again(
    sandbox: Sandbox,
) -> None:
    at = ["--run-dir", str(sandbox.run_dir)]
    sandbox.start(hosts=2)
    sw = sandbox.switch
    for args in (
        ("register", "cnt", "actions/port_counter.c", "--unrunnable", "pass"),
        ("register", "ttl", "actions/dec_ttl.c"),
        ("register", "scrub", "actions/payload_scrub.c", "--reclassify", "yes"),
    ):
        r = cli(*args, *switch_arg(sandbox))
        assert r.returncode == 0, r.stderr
    before = sw.registered()
    db_pid = sw.pid("ovsdb-server")
    namespaces = {h.netns: _netns_inode(h.netns) for h in sandbox.hosts()}
    _kill9(sandbox, "ovs-vswitchd")
    assert sw.pid("ovsdb-server") == db_pid

    r = cli("sandbox", "start", "--hosts", "2", *at)
    assert r.returncode == 0, r.stderr
    assert "sandbox recovered" in r.stdout
    assert "restarted ovs-vswitchd; the database, hosts and pins were kept" in r.stdout
    assert "re-registered from extframe's records: cnt, scrub, ttl" in r.stdout
    assert "OpenFlow flows" in r.stdout
    # Only the dead daemon was started again; the hosts are the same namespaces.
    assert sw.pid("ovsdb-server") == db_pid and sw.pid("ovs-vswitchd") is not None
    assert {h.netns: _netns_inode(h.netns) for h in sandbox.hosts()} == namespaces
    assert sw.vsctl("list-ports", "br0").split() == [h.ifname for h in sandbox.hosts()]
    # The same programs, with the same decisions, options and write sets.
    assert sw.registered() == before
    listed = json.loads(cli("list", *switch_arg(sandbox), "--json").stdout)
    assert len(listed) == 3 and all(a["registered_by_extframe"] for a in listed)
    # And they run: a restored action counts the packets of a new flow.
    sw.ofctl("add-flow", "br0", "priority=10,ip,actions=bpf(cnt),NORMAL")
    sw.ofctl("add-flow", "br0", "priority=5,arp,actions=NORMAL")
    assert traffic.ping(sandbox.host("h1"), "10.0.0.2", count=2)["received"] == 2
    assert sw.counters("cnt")["packets"] >= 4


def test_start_after_a_crash_drops_what_cannot_be_proved_and_unparks_a_replace(
    sandbox: Sandbox,
) -> None:
    sandbox.start(hosts=1)
    sw = sandbox.switch
    for name in ("gone", "parked", "kept"):
        r = cli("register", name, "actions/port_counter.c", *switch_arg(sandbox))
        assert r.returncode == 0, r.stderr
    kept_id = sw.registered()["parked"].prog_id
    _kill9(sandbox, "ovs-vswitchd")
    # What crashes leave: a program whose pins were removed, a replace that
    # had parked the old pins when it died, and pins no record speaks for.
    shutil.rmtree(sw.pin_root / "gone")
    os.rename(sw.pin_root / "parked", sw.pin_root / "parked_being_replaced")
    (sw.pin_root / "parked" / "prog").mkdir(parents=True)  # the new pins, half made
    (sw.pin_root / "orphan" / "prog").mkdir(parents=True)

    r = cli("sandbox", "start", "--hosts", "1", "--run-dir", str(sandbox.run_dir), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["restarted"] == ["ovs-vswitchd"]
    assert out["restored"] == ["kept", "parked"]
    assert [d["name"] for d in out["dropped"]] == ["gone"]
    assert "is gone" in out["dropped"][0]["why"]
    assert sorted(sw.registered()) == ["kept", "parked"]
    assert sw.registered()["parked"].prog_id == kept_id
    assert sorted(p.name for p in sw.pin_root.iterdir()) == ["kept", "parked"]
    assert sorted(p.name for p in sw.state_dir.glob("*.json")) == ["kept.json", "parked.json"]


def test_start_after_both_daemons_died_keeps_the_hosts(sandbox: Sandbox) -> None:
    sandbox.start(hosts=1)
    h1 = sandbox.host("h1")
    inode = _netns_inode(h1.netns)
    _kill9(sandbox, "ovs-vswitchd", "ovsdb-server")
    started = sandbox.start(hosts=1)
    assert started["started"] is False
    assert started["restarted"] == ["ovsdb-server", "ovs-vswitchd"]
    assert _netns_inode(h1.netns) == inode
    assert sandbox.switch.vsctl("list-ports", "br0").split() == [h1.ifname]


def test_start_without_a_database_to_recover_starts_afresh(sandbox: Sandbox) -> None:
    sandbox.start(hosts=2)
    _kill9(sandbox, "ovs-vswitchd", "ovsdb-server")
    (sandbox.run_dir / "conf.db").unlink()
    assert any("namespace" in thing for thing in sandbox.leftovers())
    started = sandbox.start(hosts=2)
    assert started["started"] is True and "restarted" not in started
    sandbox.switch.ofctl("add-flow", "br0", "actions=NORMAL")
    assert sandbox.switch.vsctl("list-ports", "br0").split() == [h.ifname for h in sandbox.hosts()]
    assert traffic.ping(sandbox.host("h1"), "10.0.0.2", count=1)["received"] == 1


def test_demo_runs_end_to_end_and_cleans_up(bpffs_root: Path) -> None:
    r = cli("demo")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "FAILED" not in out
    assert out.count("[ok]") == 10
    for words in (
        "policer: verdict read_only",
        "-> no re-classification (proved read-only) (reclassify=no)",
        "dec_ttl: verdict writes",
        "-> re-classify lazily: the switch recirculates only before a step that reads nw_ttl "
        "(ip.ttl, ipv6.hop_limit) (reclassify=lazy fields=nw_ttl)",
        "h2 received",
        "(TTL 63 x",
        "recirc(",
        "Cleaned up: sandbox stopped; no process, pin, namespace or interface left.",
    ):
        assert words in out, words
    assert "dec_ttl.c:50: iph->ttl = ttl - 1;" in out
    assert pins(bpffs_root.parent) == []


def test_demo_cleans_up_on_ctrl_c(bpffs_root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "extframe", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    prefix = f"efd{proc.pid % 100000}"
    demo = Sandbox(Path(f"/run/extframe/demo-{proc.pid}"), prefix=prefix)
    deadline = time.monotonic() + 60
    root = demo.switch.pin_root
    while not (root.is_dir() and any(root.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the demo has registered an action
    assert demo.leftovers(), "the demo never started its sandbox"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert demo.leftovers() == []
    assert pins(bpffs_root.parent) == []


def test_a_second_sandbox_never_touches_the_firsts_hosts(tmp_path: Path, bpffs_root: Path) -> None:
    """Two run directories, two prefixes; a prefix another live sandbox holds is refused."""
    first, second = Sandbox(tmp_path / "one"), Sandbox(tmp_path / "two")
    assert first.prefix != second.prefix and first.prefix.startswith("efs")
    try:
        first.start(hosts=1)
        second.start(hosts=1)  # cleans up after a crashed sandbox of its own prefix only
        (h1,) = first.hosts()
        assert Path(f"/run/netns/{h1.netns}").exists()
        r = cli("sandbox", "start", "--run-dir", str(tmp_path / "three"), "--prefix",
                first.prefix)  # fmt: skip
        assert r.returncode == 2 and f"belongs to the sandbox in {first.run_dir}" in r.stderr
        assert Sandbox(tmp_path / "three", prefix=first.prefix).stop()["removed_hosts"] == []
        assert Path(f"/run/netns/{h1.netns}").exists(), "a refused sandbox removed h1"
        second.stop()
        assert Path(f"/run/netns/{h1.netns}").exists(), "stopping the second removed h1"
        first.switch.ofctl("add-flow", "br0", "actions=NORMAL")
        assert first.switch.running()
    finally:
        second.stop()
        first.stop()
    assert first.leftovers() == [] and second.leftovers() == []
    assert not (Path("/run/extframe/prefixes") / first.prefix).exists()


def test_switch_commands_of_another_user_are_told_they_need_root(
    sandbox: Sandbox, intruder: User
) -> None:
    sandbox.start()
    at = ["--switch", str(sandbox.run_dir)]
    for command in (
        ["list", *at],
        ["register", "x", str(ROOT / "actions" / "dec_ttl.c"), *at],
        ["unregister", "x", *at],
        ["restore", *at],
        ["flow", "dump", *at],
        ["mirror", "-w", "/dev/null", *at],
        ["sandbox", "status", "--run-dir", str(sandbox.run_dir)],
    ):
        r = intruder.run(sys.executable, "-m", "extframe", *command)
        assert r.returncode == 2, (command, r.stderr)
        words = " ".join(command[:2]) if command[0] == "sandbox" else command[0]
        assert r.stderr.startswith(f"extframe: error: extframe {words} needs root:"), r.stderr
        assert r.stderr.count("\n") == 1
    assert sandbox.switch.registered() == {}
