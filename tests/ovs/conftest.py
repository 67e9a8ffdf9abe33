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
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from extframe.ovs.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "ovs_patches" / "build.sh"


@functools.cache
def ovs_build() -> Path | None:
    """The folder of the patched OVS build, or None if it is not built (asked once)."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--where"], capture_output=True, text=True, check=False
    )
    return Path(done.stdout.strip()) if done.returncode == 0 else None


@dataclass(frozen=True)
class Switch:
    """A running ovsdb-server and ovs-vswitchd, driven through their tools."""

    build: Path
    run_dir: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            env[var] = str(self.run_dir)
        return env

    def tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        folder = "sbin" if name.startswith("ovs-vswitchd") or name == "ovsdb-server" else "bin"
        return subprocess.run(
            [str(self.build / "install" / folder / name), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def vsctl(self, *args: str) -> str:
        return self.tool("ovs-vsctl", f"--db=unix:{self.run_dir / 'db.sock'}", *args).stdout

    def ofctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.tool("ovs-ofctl", *args, check=check)

    def appctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.tool("ovs-appctl", *args, check=check)

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
    run_dir = tmp_path / "ovs"
    run_dir.mkdir()
    sw = Switch(build=build, run_dir=run_dir)
    schema = build / "install" / "share" / "openvswitch" / "vswitch.ovsschema"
    sw.tool("ovsdb-tool", "create", str(run_dir / "conf.db"), str(schema))
    sw.tool(
        "ovsdb-server",
        "--detach",
        "--no-chdir",
        "--pidfile",
        "--log-file",
        f"--remote=punix:{run_dir / 'db.sock'}",
        str(run_dir / "conf.db"),
    )
    try:
        sw.vsctl("--no-wait", "init")
        sw.tool(
            "ovs-vswitchd",
            "--detach",
            "--no-chdir",
            "--pidfile",
            "--log-file",
            "--enable-dummy=override",
            "--disable-system",
            f"unix:{run_dir / 'db.sock'}",
        )
        yield sw
    finally:
        sw.appctl("-t", "ovs-vswitchd", "exit", "--cleanup", check=False)
        sw.appctl("-t", "ovsdb-server", "exit", check=False)


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
