"""Soak: register / replace / unregister over and over while traffic flows.

``make test`` runs a short form (20 cycles); ``make soak`` runs 1,000
(``EXTFRAME_SOAK_CYCLES``). ovs-vswitchd must stay up, its open file
descriptors and the pins must come back to where they started, and no
packet may run through a program after it was unregistered.

The crash variant kills ovs-vswitchd with SIGKILL at random points of
such cycles (``make test``: 50 kills; ``make soak``: 200,
``EXTFRAME_SOAK_KILLS``); after each ``sandbox start`` the switch must
run exactly what extframe's records say, with no orphaned pin or namespace.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from extframe.build import build
from extframe.errors import OvsError
from extframe.kernel.loader import LoadedMap
from extframe.ovs import registry
from extframe.ovs.sandbox import Sandbox
from extframe.ovs.switch import Switch
from tests.conftest import ACTIONS
from tests.ovs.conftest import pins, port_packets, port_stats

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

CYCLES = int(os.environ.get("EXTFRAME_SOAK_CYCLES", "20"))
KILLS = int(os.environ.get("EXTFRAME_SOAK_KILLS", "50"))
#: The cycles' proof that a retired program stops running reads each
#: program's own kernel map, so the kernel runs them (the in-process
#: executor keeps a map across replacements; the kill test runs in-process).
KERNEL = {"executor": "kernel"}


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_register_replace_unregister_cycles_under_traffic(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.start(hosts=2)
    sw = sandbox.switch
    obj = build(ACTIONS / "port_counter.c", tmp_path / "port_counter.o")
    pid = sw.pid("ovs-vswitchd")
    assert pid is not None
    registry.register(sw, "soak", obj, options=KERNEL)  # a flow may only name a registered action
    for flow in (
        "priority=100,arp,actions=NORMAL",
        "priority=10,ip,in_port=1,actions=bpf(soak),output:2",
    ):
        sw.ofctl("add-flow", "br0", flow)
    h1, h2 = sandbox.host("h1"), sandbox.host("h2")
    sender = subprocess.Popen(
        h1.command(
            sys.executable, "-m", "extframe.ovs.traffic", "send", "--to", h2.ip,
            "--port", "9000", "--count", "100000000", "--rate", "500",
        ),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    # One warm-up cycle under traffic before the baseline: the first deferred
    # free starts OVS's RCU thread and the first packets open a socket, each
    # kept for good.
    time.sleep(0.3)
    registry.replace(sw, "soak", obj, options=KERNEL)
    registry.unregister(sw, "soak", force=True)
    sw.appctl("revalidator/wait")
    time.sleep(0.3)
    fds_before = _fds(pid)
    registry.register(sw, "soak", obj, options=KERNEL)
    folder = sw.pin_root / "soak"
    current = port_stats(folder)
    time.sleep(0.5)
    retired: list[tuple[LoadedMap, int]] = []
    ran = 0

    def retire(m: LoadedMap) -> None:
        nonlocal ran
        n = port_packets(m)
        ran += n
        retired.append((m, n))

    def check_retired() -> None:
        # Every program replaced or unregistered so far has stopped running.
        for m, n in retired:
            assert port_packets(m) == n, "a packet ran through a retired program"
            os.close(m.fd)
        retired.clear()

    try:
        for _ in range(CYCLES):
            time.sleep(0.01)
            registry.replace(sw, "soak", obj, options=KERNEL)
            retire(current)
            current = port_stats(folder)
            time.sleep(0.01)
            registry.unregister(sw, "soak", force=True)
            retire(current)
            registry.register(sw, "soak", obj, options=KERNEL)
            current = port_stats(folder)
            check_retired()
        time.sleep(0.2)
        registry.unregister(sw, "soak", force=True)
        retire(current)
        time.sleep(0.2)
        check_retired()
    finally:
        sender.kill()
        sender.wait()
    assert sw.pid("ovs-vswitchd") == pid, "ovs-vswitchd died"
    assert ran > 0, "no traffic ran through the programs: the soak tested nothing"
    sw.appctl("revalidator/wait")
    deadline = time.monotonic() + 5  # old programs are closed after an RCU grace period
    while _fds(pid) != fds_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _fds(pid) == fds_before
    assert pins(sw.pin_root) == []
    assert sw.registered() == {}


def _churn(
    sw: Switch,
    obj: Path,
    choose: random.Random,
    stop: threading.Event,
    busy: threading.Event,
    unexpected: list[BaseException],
) -> None:
    """Register, replace and unregister actions a and b until ``stop``."""
    while not stop.is_set():
        name = choose.choice(("a", "b"))
        busy.set()
        try:
            if name not in sw.registered():
                registry.register(sw, name, obj)
            elif choose.random() < 0.5:
                registry.replace(sw, name, obj)
            else:
                registry.unregister(sw, name, force=True)
        except OvsError:
            pass  # the switch died under it: the change was undone
        except BaseException as e:  # anything else is a bug
            unexpected.append(e)
            return
        finally:
            busy.clear()


def test_kill_9_of_ovs_vswitchd_during_changes_is_recovered_exactly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.start(hosts=1)
    sw = sandbox.switch
    obj = build(ACTIONS / "port_counter.c", tmp_path / "port_counter.o")
    seed = int(os.environ.get("EXTFRAME_SOAK_SEED", str(time.time_ns())))
    rng = random.Random(seed)
    interrupted = 0  # kills that landed inside a register, replace or unregister
    for kill in range(KILLS):
        stop = threading.Event()
        busy = threading.Event()
        unexpected: list[BaseException] = []

        worker = threading.Thread(
            target=_churn, args=(sw, obj, random.Random(rng.random()), stop, busy, unexpected)
        )
        worker.start()
        time.sleep(rng.uniform(0.05, 1.2))
        pid = sw.pid("ovs-vswitchd")
        assert pid is not None, f"kill {kill}: ovs-vswitchd is not running (seed {seed})"
        os.kill(pid, signal.SIGKILL)
        interrupted += busy.is_set()
        stop.set()
        worker.join(120)
        assert not worker.is_alive()
        assert not unexpected, f"kill {kill}: {unexpected[0]!r} (seed {seed})"

        out = sandbox.start(hosts=1)
        assert out["restarted"] == ["ovs-vswitchd"], out
        assert out["dropped"] == [], f"kill {kill}: {out['dropped']} (seed {seed})"
        assert out["failed"] == [], f"kill {kill}: {out['failed']} (seed {seed})"
        have = sw.registered()
        records = {p.stem for p in sw.state_dir.glob("*.json")}
        assert set(have) == records, f"kill {kill} (seed {seed})"
        for name, reg in have.items():
            record = registry.read_record(sw, name)
            assert record is not None and record.describes(reg)
            assert reg.path == record.program_pin
        assert {p.name for p in sw.pin_root.iterdir()} == set(have), f"kill {kill}"
        assert sandbox._namespaces() == {sandbox.switch_netns, sandbox.host("h1").netns}
    # Most kills must land inside a change, or the soak tests little.
    assert interrupted >= KILLS // 2, f"{interrupted} of {KILLS} kills hit a change"
