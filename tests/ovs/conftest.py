"""A patched ovs-vswitchd of our own, in a temporary folder, for the OVS tests.

The build comes from ``ovs_patches/build.sh`` (the README's set-up runs it);
where it is missing the tests are skipped, which CI turns into a failure
(``tests/conftest.py``). Bridges use the userspace datapath with
netdev-dummy ports: packets go in with ``netdev-dummy/receive`` and come out
in a pcap file per port (``options:tx_pcap``).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from extframe.errors import OvsError
from extframe.kernel import bpffs
from extframe.kernel.loader import LoadedMap
from extframe.ovs.maps import open_action_map
from extframe.ovs.sandbox import Sandbox
from extframe.ovs.switch import BUILD_SCRIPT as BUILD_SCRIPT
from extframe.ovs.switch import Switch as OvsSwitch
from extframe.ovs.switch import ovs_build as find_build


@functools.cache
def ovs_build() -> Path | None:
    """The folder of the patched OVS build, or None if it is not built (asked once)."""
    try:
        return find_build()
    except OvsError:
        return None


class Switch(OvsSwitch):
    """A patched switch whose ports are netdev-dummy: frames go in and out as bytes."""

    def add_bridge(self, ports: int) -> None:
        """br0 on the userspace datapath, with dummy ports p1..pN (OpenFlow 1..N)."""
        cmd = [
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "fail-mode=secure",
        ]
        for n in range(1, ports + 1):
            cmd += [
                "--",
                "add-port",
                "br0",
                f"p{n}",
                "--",
                "set",
                "interface",
                f"p{n}",
                "type=dummy",
                f"ofport_request={n}",
                f"options:tx_pcap={self.run_dir / f'p{n}-tx.pcap'}",
            ]
        self.vsctl(*cmd)

    def send(self, port: str, frame: bytes) -> None:
        self.appctl("netdev-dummy/receive", port, frame.hex())

    def settle(self) -> None:
        """Wait until the switch has handled what it was sent and revalidated."""
        self.appctl("revalidator/wait")
        time.sleep(0.2)


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Switch]:
    build = ovs_build()
    if build is None:
        pytest.skip("the patched OVS is not built: run ovs_patches/build.sh (make setup does)")
    sw = Switch(tmp_path / "ovs", build)
    try:
        sw.start("--enable-dummy=override", "--disable-system")
        yield sw
    finally:
        sw.stop()
        # What the test registered stays pinned (and loaded) after the switch
        # stops: its folder is this switch's alone. Never through a planted link.
        if bpffs.owned_if_there(sw.pin_root):
            shutil.rmtree(sw.pin_root, ignore_errors=True)
        assert not sw.pin_root.exists(), f"pins left under {sw.pin_root}"


_sandboxes = itertools.count(1)


@pytest.fixture
def sandbox(tmp_path: Path, bpffs_root: Path) -> Iterator[Sandbox]:
    """A private, stopped sandbox (its own run directory, namespace prefix and pins).

    The test starts it with the hosts it needs. Afterwards it is stopped
    and must have left nothing behind.
    """
    if ovs_build() is None:
        pytest.skip("the patched OVS is not built: run ovs_patches/build.sh (make setup does)")
    sb = Sandbox(tmp_path / "sandbox", prefix=f"eft{os.getpid() % 10000}{next(_sandboxes)}")
    try:
        yield sb
    finally:
        sb.stop()
    assert sb.leftovers() == []


def switch_arg(sb: Sandbox) -> list[str]:
    return ["--switch", str(sb.run_dir)]


def pins(root: Path) -> list[str]:
    """Every file pinned below ``root`` in bpffs."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def action_packets(switch: OvsSwitch, name: str, port: int = 1) -> int:
    """Packets the registered port_counter ``name`` counted for ``port``, in the map it
    uses: the switch's when it runs in-process, the kernel's otherwise."""
    with open_action_map(switch, name, "port_stats") as m:
        raw = m.lookup(port.to_bytes(4, "little"))
    return int.from_bytes(raw[:8], "little") if raw else 0


def port_stats(folder: Path) -> LoadedMap:
    """The ``port_stats`` map of a pinned port_counter (actions/port_counter.c)."""
    return bpffs.open_pinned_map(folder / "map" / "port_stats")


def port_packets(m: LoadedMap, port: int = 1) -> int:
    """Packets port_counter counted for ``port``."""
    raw = m.lookup(port.to_bytes(4, "little"))
    return int.from_bytes(raw[:8], "little") if raw else 0
