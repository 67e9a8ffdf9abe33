"""A running patched Open vSwitch, found by its run directory.

A switch is an ``ovsdb-server`` and an ``ovs-vswitchd`` that keep their pid
files and sockets in one run directory (``OVS_RUNDIR``): ``db.sock``,
``ovs-vswitchd.pid`` and ``ovs-vswitchd.PID.ctl``. extframe drives it with
OVS's own tools from the patched build (``ovs_patches/build.sh``), never
with hand-written protocol code: ``ovs-appctl`` for the bpf registry,
``ovs-vsctl`` for the database, ``ovs-ofctl`` for OpenFlow.

``--switch`` names a run directory, or the database socket inside one
(``unix:/run/openvswitch/db.sock``, or its path). Without it, extframe
uses ``$EXTFRAME_SWITCH``, else the sandbox (``extframe sandbox start``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import select
import signal
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from extframe.errors import OvsError
from extframe.kernel import per_cpu_room
from extframe.kernel.bpffs import bpffs_mount
from extframe.ovs.options import OPTIONS
from extframe.owned import check_folder

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "ovs_patches" / "build.sh"

#: Where the sandbox keeps its switch; ``$EXTFRAME_SANDBOX`` overrides it.
SANDBOX_RUN_DIR = Path("/run/extframe/sandbox")

#: OpenFlow versions ovs-ofctl may use, so that it talks to any bridge.
OF_VERSIONS = "OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15"

#: The registry's rule for action names (lib/bpf-action.c): 1 to 15
#: letters, digits and underscores, not starting with a digit.
ACTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,14}$")


def sandbox_run_dir() -> Path:
    """The sandbox's run directory: ``$EXTFRAME_SANDBOX`` or /run/extframe/sandbox."""
    return Path(os.environ.get("EXTFRAME_SANDBOX", str(SANDBOX_RUN_DIR)))


def ovs_build() -> Path:
    """The patched OVS build folder (``ovs_patches/build.sh --where``).

    ``$EXTFRAME_OVS_BUILD`` names one explicitly. Raises ``OvsError`` when
    there is none: the set-up builds it.
    """
    explicit = os.environ.get("EXTFRAME_OVS_BUILD")
    if explicit:
        folder = Path(explicit)
        if not (folder / "install" / "sbin" / "ovs-vswitchd").exists():
            raise OvsError(f"EXTFRAME_OVS_BUILD={folder} holds no install/sbin/ovs-vswitchd")
        return folder
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--where"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise OvsError(
            "the patched Open vSwitch is not built: run `make setup` "
            "(or `bash ovs_patches/build.sh`, about 3 minutes)"
        )
    return Path(done.stdout.strip())


def require_root(command: str) -> None:
    """Raise ``OvsError`` unless this process runs as root, as switch commands must."""
    if os.geteuid() != 0:
        raise OvsError(
            f"extframe {command} needs root: the switch's control sockets, extframe's records "
            f"and the pins in bpffs are root's alone; run it as root (sudo extframe {command} ...)"
        )


def check_action_name(name: str) -> None:
    """Raise ``OvsError`` unless ``name`` is a name the registry accepts."""
    if not ACTION_NAME.match(name):
        raise OvsError(
            f"invalid action name {name!r}: 1 to 15 letters, digits and '_', "
            "not starting with a digit (flows say bpf(NAME))"
        )


@dataclass(frozen=True)
class Registered:
    """One action of ``ovs-appctl bpf/list --json``."""

    name: str
    path: str
    prog_id: int
    #: The registration's options, by key (extframe/ovs/options.py).
    options: Mapping[str, Any]
    #: What runs the program: "inproc" (ovs-vswitchd's own executor) or
    #: "kernel" (BPF_PROG_TEST_RUN), and, for the kernel, why.
    runs_on: str = "kernel"
    runs_on_reason: str = ""

    @property
    def reclassify_mode(self) -> str:
        """``yes``, ``lazy`` or ``no`` (extframe/ovs/options.py)."""
        return str(self.options["reclassify"])

    @property
    def reclassify(self) -> bool:
        """Whether the switch may re-classify after the action (``yes`` or ``lazy``)."""
        return self.reclassify_mode != "no"

    @property
    def fields(self) -> list[str]:
        return list(self.options["fields"])

    @property
    def unrunnable(self) -> str:
        """What the switch does with a packet the kernel refuses to run the program on:
        "drop" (and count an error) or "pass" (forward it as it came)."""
        return str(self.options["unrunnable"])


#: Bytes the registry refuses in a path: a newline could forge a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_Count = Annotated[int, Field(ge=0)]


def _printable(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("the text holds a control character")
    return text


def _absolute_and_printable(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError("the path is not absolute")
    if _CONTROL.search(path):
        raise ValueError("the path holds a control character")
    return path


class _Action(BaseModel):
    """What every action of the switch's answers has besides its options."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Annotated[str, Field(pattern=ACTION_NAME.pattern)]
    path: Annotated[str, AfterValidator(_absolute_and_printable)]
    prog_id: Annotated[int, Field(ge=1)]
    runs_on: Literal["inproc", "kernel"]
    runs_on_reason: Annotated[str, AfterValidator(_printable)]


class _ActionShown(_Action):
    """What ``bpf/show --json NAME`` adds: the program and the counters."""

    #: How the switch runs it: compiled to machine code, interpreted (and
    #: ``engine_reason`` says why not compiled), or in the kernel.
    engine: Literal["jit", "interpreter", "kernel"]
    engine_reason: Annotated[str, AfterValidator(_printable)]
    prog_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]{0,15}$")]
    prog_tag: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    registration_id: Annotated[int, Field(ge=1)]
    replaced: _Count
    packets: _Count
    drops: _Count
    errors: _Count
    unrunnable_packets: _Count
    run_time_ns: _Count


#: Every option of OPTIONS, required in each answer: a switch that does not
#: know one is out of date.
_OPTION_FIELDS: dict[str, Any] = {o.key: (o.type, ...) for o in OPTIONS}
#: An action as ``bpf/list --json`` replies it (lib/bpf-action.c: action_to_json()).
_Listed = create_model("_Listed", __base__=_Action, **_OPTION_FIELDS)
#: An action as ``bpf/show --json NAME`` replies it.
_Shown = create_model("_Shown", __base__=_ActionShown, **_OPTION_FIELDS)


_T = TypeVar("_T")


def _unexpected(command: str, what: str) -> OvsError:
    return OvsError(
        f"unexpected reply to {command} ({what}): the switch's patch series may be out "
        "of date; rebuild it with ovs_patches/build.sh and restart the switch"
    )


def _read_reply(adapter: TypeAdapter[_T], command: str, text: str) -> _T:
    """``text`` as ``adapter`` reads it; anything else is a one-line ``OvsError``."""
    try:
        return adapter.validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        more = f" and {e.error_count() - 1} more" if e.error_count() > 1 else ""
        what = " ".join(f"{where}: {first['msg']}".removeprefix(": ").split())
        raise _unexpected(command, what + more) from None


_LIST_REPLY = TypeAdapter(list[_Listed])
_SHOW_REPLY = TypeAdapter(_Shown)


def parse_bpf_list(text: str) -> dict[str, Registered]:
    """``bpf/list --json``'s reply, by name; any other reply is an ``OvsError``."""
    out: dict[str, Registered] = {}
    for a in _read_reply(_LIST_REPLY, "bpf/list --json", text):
        d = a.model_dump()
        if d["name"] in out:
            raise _unexpected("bpf/list --json", f"{d['name']} is listed twice")
        out[d["name"]] = Registered(
            name=d["name"],
            path=d["path"],
            prog_id=d["prog_id"],
            options={o.key: d[o.key] for o in OPTIONS},
            runs_on=d["runs_on"],
            runs_on_reason=d["runs_on_reason"],
        )
    return out


def parse_bpf_show(text: str) -> dict[str, int]:
    """The counters of ``bpf/show --json NAME``: packets, drops, errors, unrunnable,
    run_time_ns, replaced, registration_id. Any other reply is an ``OvsError``."""
    d = _read_reply(_SHOW_REPLY, "bpf/show --json", text).model_dump()
    return {
        "packets": d["packets"],
        "drops": d["drops"],
        "errors": d["errors"],
        "unrunnable": d["unrunnable_packets"],
        "run_time_ns": d["run_time_ns"],
        "replaced": d["replaced"],
        "registration_id": d["registration_id"],
    }


_Hex = Annotated[str, Field(pattern=r"^([0-9a-f]{2})+$")]


class _MapReply(BaseModel):
    """One map of ``bpf/map-dump NAME`` (lib/bpf-action.c: bpf_unixctl_map_dump()).

    A ring buffer has no keys, values or entries; a per-CPU map says for how
    many CPUs it holds a value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Annotated[int, Field(ge=0)]
    key_size: Annotated[int, Field(ge=0)]
    value_size: Annotated[int, Field(ge=0)]
    max_entries: Annotated[int, Field(ge=1)]
    entries: dict[_Hex, _Hex]
    cpus: Annotated[int, Field(ge=1)] = 1
    pending_bytes: Annotated[int, Field(ge=0)] = 0


_MAP_DUMP_REPLY = TypeAdapter(dict[str, _MapReply])


class _RingRead(BaseModel):
    """``bpf/ringbuf-read NAME MAP``'s reply (bpf_unixctl_ringbuf_read())."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    records: list[Annotated[str, Field(pattern=r"^([0-9a-f]{2})*$")]]
    more: bool


_RING_READ_REPLY = TypeAdapter(_RingRead)


@dataclass(frozen=True)
class SwitchMap:
    """A map the switch keeps for an action it runs in-process, as ``bpf/map-dump`` shows it.

    ``name`` is the kernel's name of the map it was made from (at most 15
    characters); an array's all-zero entries are not in ``entries``.
    """

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    entries: dict[bytes, bytes]
    cpus: int = 1  # a per-CPU map's values: one for each, each padded to 8 bytes

    @property
    def value_bytes(self) -> int:
        """The size of a value in ``entries``."""
        return self.value_size if self.cpus == 1 else self.cpus * per_cpu_room(self.value_size)


def parse_map_dump(text: str) -> dict[str, SwitchMap]:
    """``bpf/map-dump``'s reply, by map name; any other reply is an ``OvsError``."""
    out = {}
    for name, m in _read_reply(_MAP_DUMP_REPLY, "bpf/map-dump", text).items():
        entries = {bytes.fromhex(k): bytes.fromhex(v) for k, v in m.entries.items()}
        kept = SwitchMap(name, m.type, m.key_size, m.value_size, m.max_entries, entries, m.cpus)
        if any(len(k) != m.key_size or len(v) != kept.value_bytes for k, v in entries.items()):
            raise _unexpected("bpf/map-dump", f"map {name}: an entry is not of the map's sizes")
        out[name] = kept
    return out


def parse_ringbuf_read(text: str) -> tuple[list[bytes], bool]:
    """``bpf/ringbuf-read``'s records, in order, and whether more are left."""
    reply = _read_reply(_RING_READ_REPLY, "bpf/ringbuf-read", text)
    return [bytes.fromhex(r) for r in reply.records], reply.more


class Switch:
    """A switch's run directory and the tools that talk to it."""

    def __init__(self, run_dir: Path, build: Path | None = None) -> None:
        self.run_dir = run_dir.absolute()  # the daemons are told, and later found, by it
        self._build = build

    @classmethod
    def named(cls, spec: str | None) -> Switch:
        """The switch ``--switch`` names (a run directory or a db socket), or the default."""
        if spec is None:
            spec = os.environ.get("EXTFRAME_SWITCH") or str(sandbox_run_dir())
        path = Path(spec.removeprefix("unix:"))
        if path.is_socket() or path.suffix == ".sock":
            path = path.parent
        return cls(path)

    def __repr__(self) -> str:
        return f"Switch({str(self.run_dir)!r})"

    @property
    def build(self) -> Path:
        if self._build is None:
            self._build = ovs_build()
        return self._build

    @property
    def db_socket(self) -> Path:
        return self.run_dir / "db.sock"

    @property
    def key(self) -> str:
        """A short name for this switch that is stable and unique per run directory."""
        digest = hashlib.sha256(str(self.run_dir.resolve()).encode()).hexdigest()[:8]
        base = re.sub(r"[^A-Za-z0-9_]", "_", self.run_dir.name)[:16] or "switch"
        return f"{base}_{digest}"

    @property
    def pin_root(self) -> Path:
        """Where actions registered with this switch are pinned in bpffs."""
        return bpffs_mount() / "extframe_ovs" / self.key

    @property
    def state_dir(self) -> Path:
        """extframe's records of the actions it registered here."""
        return self.run_dir / "extframe"

    # -- processes --------------------------------------------------------------------

    def pid(self, daemon: str) -> int | None:
        """The pid of ``daemon`` if its pid file names that very daemon of this run directory.

        A pid file can name any process (a stale file, a reused pid, a file
        someone wrote): the process must hold the write lock that an OVS
        daemon keeps on its pid file, and run an executable called ``daemon``.
        """
        pidfile = self.run_dir / f"{daemon}.pid"
        pid = _read_pid(pidfile)
        return pid if pid is not None and _is_daemon(pid, daemon, pidfile) else None

    def running(self) -> bool:
        return self.pid("ovs-vswitchd") is not None and self.pid("ovsdb-server") is not None

    def require_running(self) -> None:
        """Raise ``OvsError`` unless both daemons run and ovs-vswitchd has the bpf registry."""
        if not self.running():
            where = self.run_dir
            hint = (
                "`extframe sandbox start` starts one"
                if where == sandbox_run_dir()
                else "start it, or name another with --switch RUNDIR"
            )
            raise OvsError(f"no Open vSwitch is running with run directory {where}: {hint}")
        commands = self.appctl("list-commands")
        if "bpf/add" not in commands:
            raise OvsError(
                f"the ovs-vswitchd of {self.run_dir} has no bpf registry (no bpf/add): "
                "it is not built with ovs_patches/; `extframe sandbox start` runs one that is"
            )

    def start(self, *vswitchd_args: str, netns: str | None = None) -> None:
        """Create a database and run ovsdb-server and ovs-vswitchd on it, both detached.

        ``vswitchd_args`` are passed on (``--disable-system``, ...);
        ``netns``: the network namespace ovs-vswitchd runs in.
        """
        self.own_run_dir()
        schema = self.build / "install" / "share" / "openvswitch" / "vswitch.ovsschema"
        db = self.run_dir / "conf.db"
        db.unlink(missing_ok=True)
        self.tool("ovsdb-tool", "create", str(db), str(schema))
        self.start_ovsdb_server()
        self.vsctl("--no-wait", "init")
        self.start_vswitchd(*vswitchd_args, netns=netns)

    def start_ovsdb_server(self) -> None:
        """Run ovsdb-server, detached, on the run directory's existing ``conf.db``."""
        self.tool(
            "ovsdb-server",
            "--detach",
            "--no-chdir",
            "--pidfile",
            "--log-file",
            f"--remote=punix:{self.db_socket}",
            str(self.run_dir / "conf.db"),
        )

    def start_vswitchd(self, *vswitchd_args: str, netns: str | None = None) -> None:
        """Run ovs-vswitchd, detached, on the database of the run directory.

        The control sockets of earlier ovs-vswitchd processes that are gone
        (``ovs-vswitchd.PID.ctl``, left by a crash) are removed first.
        """
        for ctl in self.run_dir.glob("ovs-vswitchd.*.ctl"):
            pid = ctl.name.split(".")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                ctl.unlink(missing_ok=True)
        self.tool(
            "ovs-vswitchd",
            "--detach",
            "--no-chdir",
            "--pidfile",
            "--log-file",
            *vswitchd_args,
            f"unix:{self.db_socket}",
            netns=netns,
        )

    def wait_for_registry(self, timeout_s: float = 10) -> None:
        """Wait until a freshly started ovs-vswitchd answers ``bpf/*`` commands."""
        deadline = time.monotonic() + timeout_s
        while "bpf/add" not in self.appctl("list-commands"):
            if time.monotonic() > deadline:
                raise OvsError(
                    f"the ovs-vswitchd of {self.run_dir} has no bpf registry {timeout_s:g} s "
                    "after it started: see its log, ovs-vswitchd.log in the run directory"
                )
            time.sleep(0.05)

    def stop(self) -> bool:
        """Stop both daemons (``exit --cleanup``, then TERM and KILL); True if one ran.

        Only processes proven to be this run directory's daemons are
        signalled, through a pidfd taken before the proof: a pid reused in
        between is never hit.
        """
        pidfds = {
            d: fd for d in ("ovs-vswitchd", "ovsdb-server") if (fd := self._pidfd(d)) is not None
        }
        try:
            if "ovs-vswitchd" in pidfds:
                with contextlib.suppress(OvsError):
                    self.appctl("exit", "--cleanup")
            if "ovsdb-server" in pidfds:
                with contextlib.suppress(OvsError):
                    self.appctl("exit", target="ovsdb-server")
            _wait_gone(list(pidfds.values()))
        finally:
            for fd in pidfds.values():
                os.close(fd)
        return bool(pidfds)

    def _pidfd(self, daemon: str) -> int | None:
        """A pidfd of ``daemon``, proven to be it after the pidfd was taken; or None."""
        pidfile = self.run_dir / f"{daemon}.pid"
        pid = _read_pid(pidfile)
        if pid is None:
            return None
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return None
        if _is_daemon(pid, daemon, pidfile):
            return fd
        os.close(fd)
        return None

    # -- tools --------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            env[var] = str(self.run_dir)
        return env

    def program(self, name: str) -> Path:
        folder = "sbin" if name in ("ovs-vswitchd", "ovsdb-server") else "bin"
        return self.build / "install" / folder / name

    def tool(self, name: str, *args: str, timeout: float = 30, netns: str | None = None) -> str:
        """Run an OVS tool against this switch; its error output becomes an ``OvsError``."""
        command = [str(self.program(name)), *args]
        if netns is not None:
            # nsenter, not `ip netns exec`: that one mounts a sysfs of the
            # namespace over /sys, which hides bpffs at /sys/fs/bpf.
            command = ["nsenter", f"--net=/run/netns/{netns}", *command]
        try:
            done = subprocess.run(
                command,
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise OvsError(
                f"{name} {' '.join(args[:2])} did not answer within {timeout:g} s: "
                f"is the switch of {self.run_dir} hung?"
            ) from None
        if done.returncode != 0:
            raise OvsError(_tool_error(name, done.stderr) or f"{name} failed ({done.returncode})")
        return done.stdout

    def appctl(self, *args: str, target: str = "ovs-vswitchd") -> str:
        return self.tool("ovs-appctl", "--timeout=20", "-t", target, *args)

    def vsctl(self, *args: str) -> str:
        return self.tool("ovs-vsctl", f"--db=unix:{self.db_socket}", "--timeout=20", *args)

    def ofctl(self, *args: str) -> str:
        return self.tool("ovs-ofctl", "-O", OF_VERSIONS, *args)

    # -- the bpf registry --------------------------------------------------------------

    def registered(self) -> dict[str, Registered]:
        """The switch's actions, by name, read from ``bpf/list --json``."""
        return parse_bpf_list(self._report("bpf/list", "--json"))

    def switch_maps(self, name: str, only: str | None = None) -> dict[str, SwitchMap]:
        """The maps the switch keeps for ``name``, which it must run in-process
        (only its map ``only``, by the kernel's name of it, if given)."""
        return parse_map_dump(self.appctl("bpf/map-dump", name, *([only] if only else [])))

    def ringbuf_read(
        self, name: str, map_name: str, max_bytes: int = 1 << 20
    ) -> tuple[list[bytes], bool]:
        """Take the records of ring buffer ``map_name`` of ``name``, about
        ``max_bytes`` of them; and whether more are left."""
        return parse_ringbuf_read(self.appctl("bpf/ringbuf-read", name, map_name, str(max_bytes)))

    def map_update(self, name: str, map_name: str, key: bytes, value: bytes) -> None:
        """``map[key] = value`` in a map the switch keeps for ``name`` (BPF_ANY)."""
        self.appctl("bpf/map-update", name, map_name, key.hex(), value.hex())

    def map_delete(self, name: str, map_name: str, key: bytes) -> None:
        self.appctl("bpf/map-delete", name, map_name, key.hex())

    def counters(self, name: str) -> dict[str, int]:
        """``name``'s counters, read from ``bpf/show --json NAME``."""
        return parse_bpf_show(self._report("bpf/show", "--json", name))

    def _report(self, *args: str) -> str:
        """A bpf/list or bpf/show reply; a switch whose series predates --json says so."""
        try:
            return self.appctl(*args)
        except OvsError as e:
            if "command takes at most" not in e.message:
                raise
            raise OvsError(
                f"the ovs-vswitchd of {self.run_dir} has no {args[0]} --json ({e.message}): "
                "its patch series is out of date; rebuild it with ovs_patches/build.sh and "
                "restart the switch"
            ) from None

    def bridges(self) -> list[str]:
        return self.vsctl("list-br").split()

    def flows_using(self, name: str) -> list[tuple[str, str]]:
        """(bridge, flow) for every OpenFlow flow whose actions say ``bpf(name...)``."""
        uses = re.compile(rf"\bbpf\({re.escape(name)}[,)]")
        out = []
        for bridge in self.bridges():
            for line in self.ofctl("--no-stats", "dump-flows", bridge).splitlines():
                if uses.search(line):
                    out.append((bridge, line.strip()))
        return out

    def own_run_dir(self) -> Path:
        """The run directory, made if missing; refused if it is not this user's alone.

        Root writes the database, sockets, pid files and records there:
        another user who may change the folder could redirect any of them.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        check_folder(self.run_dir, OvsError)
        return self.run_dir

    def own_state_dir(self) -> Path:
        """``state_dir``, this user's own with mode 0700: nobody else opens the lock or records.

        A folder there that is a symbolic link or another user's is refused;
        one an earlier extframe made with mode 0755 is tightened.
        """
        path = self.own_run_dir() / self.state_dir.name
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            pass
        st = os.lstat(path)
        if not (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()):
            check_folder(path, OvsError)  # says why: a link, not a folder, another user's
        if stat.S_IMODE(st.st_mode) & 0o077:  # an earlier extframe made it 0755
            os.chmod(path, 0o700)
            # Others could open the old lock (and hold a flock on it) before:
            # a new one is a file nobody else has open.
            (path / "lock").unlink(missing_ok=True)
        return path

    @contextlib.contextmanager
    def lock(self, timeout_s: float | None = None) -> Iterator[None]:
        """Serialise extframe's changes to this switch's registry.

        Waits at most ``timeout_s`` (default ``$EXTFRAME_LOCK_TIMEOUT_S`` or
        60) for another command's change, then names the process holding it.
        """
        path = self.own_state_dir() / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an earlier extframe made it 0644
            waited = _flock(fd, _lock_timeout_s() if timeout_s is None else timeout_s)
            if waited is not None:
                raise OvsError(
                    f"another command has held {path} for {waited:.0f} s "
                    f"({_flock_holder(os.fstat(fd))}): wait for it to finish or stop it"
                )
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _lock_timeout_s() -> float:
    try:
        return float(os.environ.get("EXTFRAME_LOCK_TIMEOUT_S", "60"))
    except ValueError:
        raise OvsError("EXTFRAME_LOCK_TIMEOUT_S must be a number of seconds") from None


def _flock(fd: int, timeout_s: float) -> float | None:
    """Take an exclusive flock on ``fd``; None once held, or the seconds waited in vain."""
    start = time.monotonic()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            waited = time.monotonic() - start
            if waited >= timeout_s:
                return waited
            time.sleep(0.05)


def _flock_holder(st: os.stat_result) -> str:
    """Who holds the flock on the file of ``st``, from /proc/locks (the kernel's own account)."""
    for _, pid in _lock_holders("FLOCK", st):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            comm = "?"
        return f"held by pid {pid}, {comm}"
    return "holder unknown"


def _tool_error(name: str, stderr: str) -> str:
    """The useful part of an OVS tool's error output, on one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # ovs-appctl ends with "ovs-appctl: ovs-vswitchd: server returned an error".
    useful = [line for line in lines if not line.endswith("server returned an error")]
    text = "; ".join(useful or lines)
    return text.removeprefix(f"{name}: ")


def _read_pid(pidfile: Path) -> int | None:
    """The pid a pid file claims; None when there is no file or no number in it."""
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_daemon(pid: int, daemon: str, pidfile: Path) -> bool:
    """Whether ``pid`` is the ``daemon`` whose pid file is ``pidfile``.

    An OVS daemon holds a POSIX write lock on its pid file for its whole
    life (lib/daemon-unix.c); the kernel's /proc/locks names the holder, and
    only a process that may write the file can hold that lock. Its
    executable must also be called ``daemon`` where this user may read it.
    """
    try:
        st = os.stat(pidfile)
    except OSError:
        return False
    if ("WRITE", pid) not in _lock_holders("POSIX", st):
        return False
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except PermissionError:
        return True  # another user's daemon: the lock is the proof, and not ours to signal
    except OSError:
        return False  # gone, or a zombie
    return os.path.basename(exe) == daemon


def _lock_holders(kind: str, st: os.stat_result) -> list[tuple[str, int]]:
    """(access, pid) of each ``kind`` lock (POSIX, FLOCK) on the file of ``st``: /proc/locks."""
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks") as f:
            rows = [line.replace("->", "").split() for line in f]
    except OSError:
        return []
    # "1: POSIX  ADVISORY  WRITE 4242 fe:00:2187443 0 EOF"
    return [
        (row[3], int(row[4]))
        for row in rows
        if len(row) >= 6 and row[1] == kind and row[5] == where and row[4].isdigit()
    ]


def _exited(pidfd: int) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _wait_gone(pidfds: list[int], timeout: float = 10) -> None:
    """Wait for the processes of ``pidfds`` to exit; TERM and then KILL what does not."""
    deadline = time.monotonic() + timeout
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            for fd in pidfds:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(fd, sig)
            deadline = time.monotonic() + timeout / 2
        while time.monotonic() < deadline:
            # A pidfd is readable once its process has exited (a zombie included).
            if all(_exited(fd) for fd in pidfds):
                return
            time.sleep(0.05)
