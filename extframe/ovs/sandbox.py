"""The embedded sandbox: a patched Open vSwitch of extframe's own, with hosts.

``start`` creates a database, runs ``ovsdb-server`` and the patched
``ovs-vswitchd`` from the cached build with their files in a private run
directory (``/run/extframe/sandbox``; ``$EXTFRAME_SANDBOX`` or ``--run-dir``
for another), and adds bridge ``br0`` on the userspace datapath
(``datapath_type=netdev``, ``fail-mode=secure``: no flow, no forwarding).
ovs-vswitchd runs in a network namespace of its own, ``PREFIX-sw`` (the
userspace datapath makes tap devices, ``ovs-netdev`` and one per bridge,
that would clash with another switch's). Hosts are network namespaces
``PREFIX-hN`` whose ``eth0`` is a veth pair with ``PREFIX-hN`` in the
switch's namespace, added to ``br0`` as OpenFlow port N. Host N has MAC
``02:00:00:00:00:0N`` and address ``10.0.0.N/24``; every host knows every
other host's MAC (static neighbours), IPv6 is off (no router
solicitations in the counters) and the host's transmit checksum offload
is off (``ethtool -K eth0 tx off``), so that the packets the
switch reads from its AF_PACKET socket carry complete checksums.

``start`` is idempotent: on a running sandbox it only adds missing hosts.
After a daemon died it restarts only that one, on the same database, keeps
the hosts and registers the actions again from extframe's records
(``registry.restore``), and says what it did.
``stop`` leaves nothing behind: no process, no pin of an action registered
there, no namespace, no interface; only the log files stay in the run
directory. The default prefix is ``efsb`` for the default run directory and
``efs`` with a hash of the run directory for any other, so two sandboxes
never share names; a prefix is claimed in ``/run/extframe/prefixes/`` while
its sandbox lives, and a second sandbox asking for it is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from extframe.errors import OvsError
from extframe.kernel import bpffs
from extframe.ovs import registry
from extframe.ovs.switch import Switch, sandbox_run_dir
from extframe.owned import replace_file

BRIDGE = "br0"
MAX_HOSTS = 9
DEFAULT_PREFIX = "efsb"
#: One file per claimed prefix, holding the run directory of its sandbox.
PREFIX_CLAIMS = Path("/run/extframe/prefixes")


class Status(TypedDict):
    """``status``: the daemons, the bridge, the hosts; the actions while it runs."""

    run_dir: str
    running: bool
    ovs_vswitchd_pid: int | None
    ovsdb_server_pid: int | None
    bridge: str
    prefix: str
    hosts: list[dict[str, Any]]
    pin_root: str
    actions: NotRequired[list[str]]


class Started(Status):
    """``start``: the status, whether it started afresh, and what a recovery did."""

    started: bool
    restarted: NotRequired[list[str]]
    restored: NotRequired[list[str]]
    dropped: NotRequired[list[registry.Dropped]]
    failed: NotRequired[list[registry.Dropped]]
    removed: NotRequired[list[str]]


class Stopped(TypedDict):
    run_dir: str
    was_running: bool
    removed_hosts: list[str]
    removed_pins: list[str]


class Recovered(registry.Restored):
    restarted: list[str]


def default_prefix(run_dir: Path) -> str:
    """``efsb`` for the default sandbox; ``efs`` and 7 hex digits of the run directory else."""
    if run_dir.absolute() == sandbox_run_dir().absolute():
        return DEFAULT_PREFIX
    return "efs" + hashlib.sha256(os.fsencode(run_dir.resolve())).hexdigest()[:7]


@dataclass(frozen=True)
class Host:
    """A host of the sandbox: a namespace with one interface on the bridge."""

    name: str
    netns: str
    ifname: str  # the root namespace's end of the veth pair, a port of br0
    ofport: int
    mac: str
    ip: str

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the host's namespace."""
        return ["ip", "netns", "exec", self.netns, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, check=False, timeout=timeout
        )


def host_spec(prefix: str, n: int) -> Host:
    return Host(
        name=f"h{n}",
        netns=f"{prefix}-h{n}",
        ifname=f"{prefix}-h{n}",
        ofport=n,
        mac=f"02:00:00:00:00:{n:02x}",
        ip=f"10.0.0.{n}",
    )


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OvsError(f"ip {' '.join(args)}: {done.stderr.strip() or 'failed'}")


def _write_sysctl(path: str, value: str, netns: str | None = None) -> None:
    """Set a sysctl (``net/ipv6/conf/all/disable_ipv6``), in ``netns`` if given."""
    if not Path("/proc/sys/net/ipv6").exists():
        return  # no IPv6 in this kernel: nothing to turn off
    cmd = ["sysctl", "-qw", f"{path.replace('/', '.')}={value}"]
    if netns is not None:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    subprocess.run(cmd, capture_output=True, check=False)


class Sandbox:
    """The sandbox in ``run_dir``, its namespaces and interfaces named ``prefix-hN``."""

    def __init__(self, run_dir: Path | None = None, prefix: str | None = None) -> None:
        self.run_dir = run_dir or sandbox_run_dir()
        self.switch = Switch(self.run_dir)
        saved = self._state()
        self.prefix: str = prefix or str(saved.get("prefix") or default_prefix(self.run_dir))
        if len(self.prefix) > 10 or not self.prefix.replace("_", "").isalnum():
            raise OvsError(f"sandbox prefix {self.prefix!r}: at most 10 letters and digits")

    # -- state -------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.run_dir / "sandbox.json"

    def _state(self) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self._state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _save(self, hosts: list[Host]) -> None:
        state = {"prefix": self.prefix, "bridge": BRIDGE, "hosts": [asdict(h) for h in hosts]}
        replace_file(self._state_file, (json.dumps(state, indent=2) + "\n").encode())

    def hosts(self) -> list[Host]:
        raw = self._state().get("hosts", [])
        assert isinstance(raw, list)
        return [Host(**h) for h in raw]

    def host(self, name: str) -> Host:
        for h in self.hosts():
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hosts()) or "none"
        raise OvsError(f"the sandbox has no host {name!r} (hosts: {known})")

    # -- start -------------------------------------------------------------------------

    def start(self, hosts: int = 0) -> Started:
        """Run the sandbox (if it is not running) and make sure it has ``hosts`` hosts."""
        if not 0 <= hosts <= MAX_HOSTS:
            raise OvsError(f"--hosts {hosts}: the sandbox holds 0 to {MAX_HOSTS} hosts")
        if os.geteuid() != 0:
            raise OvsError(
                "the sandbox needs root (network namespaces, bpffs, raw sockets): run as root"
            )
        _ = self.switch.build  # fails early and clearly when OVS is not built
        self.switch.own_run_dir()
        self._claim()
        started = False
        recovered: Recovered | None = None
        if not self.switch.running():
            if self._recoverable():
                recovered = self._recover()
            else:
                self._clean_leftovers()
                try:
                    self._start_daemons()
                except BaseException:
                    self.stop()
                    raise
                started = True
        try:
            self.switch.vsctl(
                "--may-exist",
                "add-br",
                BRIDGE,
                "--",
                "set",
                "bridge",
                BRIDGE,
                "datapath_type=netdev",
                "fail-mode=secure",
            )
            have = {h.name: h for h in self.hosts()}
            for n in range(1, hosts + 1):
                spec = host_spec(self.prefix, n)
                if spec.name not in have:
                    self._add_host(spec, [host_spec(self.prefix, m) for m in range(1, hosts + 1)])
                    have[spec.name] = spec
                    self._save(sorted(have.values(), key=lambda h: h.ofport))
            if not self._state_file.exists():
                self._save([])
        except BaseException:
            if started:
                self.stop()
            raise
        # mypy --strict cannot see that a Status holds none of Started's optional keys.
        out: Started = {**self.status(), "started": started}  # type: ignore[typeddict-item]
        if recovered is not None:
            out["restarted"] = recovered["restarted"]
            out["restored"] = recovered["restored"]
            out["dropped"] = recovered["dropped"]
            out["failed"] = recovered["failed"]
            out["removed"] = recovered["removed"]
        return out

    def _start_daemons(self) -> None:
        # ovs-vswitchd runs in a network namespace of its own: the userspace
        # datapath makes tap devices (ovs-netdev, one per bridge) that would
        # clash with another switch's, and the host's interfaces stay out of
        # its sight. Its mounts are the host's: it opens pins in bpffs.
        if Path(f"/run/netns/{self.switch_netns}").exists():
            _ip("netns", "del", self.switch_netns)
        _ip("netns", "add", self.switch_netns)
        for key in ("all", "default"):
            _write_sysctl(f"net/ipv6/conf/{key}/disable_ipv6", "1", self.switch_netns)
        _ip("-n", self.switch_netns, "link", "set", "lo", "up")
        self.switch.start("--disable-system", netns=self.switch_netns)
        self._save([])

    def _recoverable(self) -> bool:
        """Whether a daemon died and left what a restart needs: the database, the namespaces."""
        return (
            self._state_file.exists()
            and (self.run_dir / "conf.db").is_file()
            and Path(f"/run/netns/{self.switch_netns}").exists()
        )

    def _recover(self) -> Recovered:
        """Restart only the daemons that died; keep the database, the hosts and the actions.

        ovs-vswitchd, restarted on the same database, brings back br0 and
        its ports; its bpf registry and OpenFlow flows lived in the dead
        process: extframe registers its actions again from their records
        and pins (``registry.restore``); flows are the controller's to add
        again, as after any restart of ovs-vswitchd.
        """
        restarted = []
        if self.switch.pid("ovsdb-server") is None:
            self.switch.start_ovsdb_server()
            restarted.append("ovsdb-server")
        if self.switch.pid("ovs-vswitchd") is None:
            self.switch.start_vswitchd("--disable-system", netns=self.switch_netns)
            restarted.append("ovs-vswitchd")
            try:
                self.switch.wait_for_registry()
                restored = registry.restore(self.switch)
            except OvsError as e:
                # The switch runs, without its actions: the next start sees it
                # running, so say now what registers them again.
                raise OvsError(
                    f"restarted ovs-vswitchd but could not register its actions again "
                    f"({e.message}): run `extframe restore --switch {self.run_dir}`"
                ) from None
        else:
            restored = {"restored": [], "dropped": [], "failed": [], "removed": []}
        return {"restarted": restarted, **restored}

    def _add_host(self, h: Host, everyone: list[Host]) -> None:
        if Path(f"/run/netns/{h.netns}").exists():
            _ip("netns", "del", h.netns)
        _ip("netns", "add", h.netns)
        for key in ("all", "default"):
            _write_sysctl(f"net/ipv6/conf/{key}/disable_ipv6", "1", h.netns)
        _ip(
            "link", "add", h.ifname, "netns", self.switch_netns, "type", "veth",
            "peer", "name", "eth0", "netns", h.netns,
        )  # fmt: skip
        _ip("-n", h.netns, "link", "set", "eth0", "address", h.mac)
        _ip("-n", h.netns, "addr", "add", f"{h.ip}/24", "dev", "eth0")
        _ip("-n", h.netns, "link", "set", "lo", "up")
        _ip("-n", h.netns, "link", "set", "eth0", "up")
        _ip("-n", self.switch_netns, "link", "set", h.ifname, "up")
        if shutil.which("ethtool"):
            h.run("ethtool", "-K", "eth0", "tx", "off")
        for other in everyone:
            if other.name != h.name:
                _ip(
                    "-n", h.netns, "neigh", "replace", other.ip, "lladdr", other.mac,
                    "dev", "eth0", "nud", "permanent",
                )  # fmt: skip
        self.switch.vsctl(
            "--may-exist",
            "add-port",
            BRIDGE,
            h.ifname,
            "--",
            "set",
            "interface",
            h.ifname,
            f"ofport_request={h.ofport}",
        )

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> Stopped:
        """Stop the daemons and remove hosts, pins and run files (logs stay).

        Namespaces and interfaces of the prefix are removed only while this
        sandbox holds the prefix: never another sandbox's hosts.
        """
        sw = self.switch
        was_running = sw.stop()
        removed_hosts = self._remove_hosts() if self._claimant() in (None, self._me) else []
        self._release()
        pins = []
        if bpffs.owned_if_there(sw.pin_root):  # never remove through a planted link
            pins = sorted(str(p) for p in sw.pin_root.rglob("*") if not p.is_dir())
            shutil.rmtree(sw.pin_root, ignore_errors=True)
        if self.run_dir.is_dir():
            for f in self.run_dir.iterdir():
                if f.suffix == ".log":
                    continue
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink(missing_ok=True)
        return {
            "run_dir": str(self.run_dir),
            "was_running": was_running,
            "removed_hosts": removed_hosts,
            "removed_pins": pins,
        }

    # -- the prefix ----------------------------------------------------------------------

    @property
    def _me(self) -> Path:
        return self.run_dir.resolve()

    def _claimant(self) -> Path | None:
        """The run directory of the live sandbox that holds this prefix, if any."""
        try:
            other = Path((PREFIX_CLAIMS / self.prefix).read_text().strip()).resolve()
        except (OSError, ValueError):
            return None
        # A sandbox lives until stop removes its state file.
        return other if other == self._me or (other / "sandbox.json").exists() else None

    def _claim(self) -> None:
        """Hold this prefix for this sandbox; refuse one that another live sandbox holds."""
        other = self._claimant()
        if other is not None and other != self._me:
            raise OvsError(
                f"the prefix {self.prefix} belongs to the sandbox in {other}: stop it "
                f"(`extframe sandbox stop --run-dir {other}`) or give this one another --prefix"
            )
        PREFIX_CLAIMS.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_file(PREFIX_CLAIMS / self.prefix, f"{self._me}\n".encode())

    def _release(self) -> None:
        if self._claimant() == self._me:
            (PREFIX_CLAIMS / self.prefix).unlink(missing_ok=True)

    @property
    def switch_netns(self) -> str:
        """The namespace ovs-vswitchd runs in, with the bridge's ends of the veth pairs."""
        return f"{self.prefix}-sw"

    def _namespaces(self) -> set[str]:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return {
            line.split()[0]
            for line in listed.splitlines()
            if line.split() and line.split()[0].startswith(f"{self.prefix}-")
        }

    def _interfaces(self) -> set[str]:
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
        return {n for n in names if n.startswith(f"{self.prefix}-h")}

    def _remove_hosts(self) -> list[str]:
        # Also what a sandbox that died before saving its state left behind.
        names = {h.netns for h in self.hosts()} | self._namespaces() | {self.switch_netns}
        for ifname in sorted(self._interfaces()):
            subprocess.run(["ip", "link", "del", ifname], capture_output=True)
        for ns in sorted(names):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return sorted(n for n in names if n != self.switch_netns)

    def leftovers(self) -> list[str]:
        """What of this sandbox exists now: processes, namespaces, interfaces, pins."""
        out = [
            f"{d} (pid {pid})"
            for d in ("ovs-vswitchd", "ovsdb-server")
            if (pid := self.switch.pid(d)) is not None
        ]
        out += [f"namespace {n}" for n in sorted(self._namespaces())]
        out += [f"interface {n}" for n in sorted(self._interfaces())]
        if self.switch.pin_root.exists():
            out.append(f"pins under {self.switch.pin_root}")
        return out

    def _clean_leftovers(self) -> None:
        """A sandbox that died (a crash, a reboot of /run) may have left hosts and pins."""
        self._remove_hosts()
        if bpffs.owned_if_there(self.switch.pin_root):
            shutil.rmtree(self.switch.pin_root, ignore_errors=True)

    # -- status ------------------------------------------------------------------------

    def status(self) -> Status:
        sw = self.switch
        running = sw.running()
        out: Status = {
            "run_dir": str(self.run_dir),
            "running": running,
            "ovs_vswitchd_pid": sw.pid("ovs-vswitchd"),
            "ovsdb_server_pid": sw.pid("ovsdb-server"),
            "bridge": BRIDGE,
            "prefix": self.prefix,
            "hosts": [asdict(h) for h in self.hosts()] if running else [],
            "pin_root": str(sw.pin_root),
        }
        if running:
            out["actions"] = sorted(sw.registered())
        return out
