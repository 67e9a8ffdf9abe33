"""A mirror on a running switch: insert, capture into a pcap, remove.

The mirror is an action registered like any other (``mirror_<pid>``), which
the analysis must prove read-only, and one OpenFlow flow that runs it at the
chosen point of the pipeline without changing what the pipeline does::

    table=T, priority=65535, cookie=C, MATCH, reg15=0/0x80000000,
        actions=bpf(mirror_<pid>), load:1->NXM_NX_REG15[31], resubmit(,T)

The packet runs the action, marks itself in bit 31 of ``reg15`` and goes
through table T again, where the mirror's flow no longer matches: the
table's own flows decide what happens to it, exactly as without the mirror.
Registers start at zero for every packet and are not part of the datapath
flow key; the mirror refuses a bridge whose flows use ``reg15``. A read-only
action costs no re-classification, so the datapath flows keep their actions
and gain no ``recirc``.

Everything the mirror added is removed when it stops (``-c``,
``--duration``, Ctrl-C, SIGTERM, an error); a mirror that was killed is
cleaned up by the next one on that switch.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from scapy.utils import RawPcapWriter

from extframe.errors import ExtframeError, MapError, MirrorError, OvsError
from extframe.kernel import LoadedMap, RingReader, bpffs
from extframe.mirror.codegen import COUNTERS, decode_record, write_action
from extframe.mirror.pcapfilter import LINKTYPE_ETHERNET, MAX_SNAPLEN
from extframe.ovs import registry
from extframe.ovs.maps import ActionMap, SwitchActionMap, SwitchRingReader
from extframe.ovs.switch import Switch

#: Flows of mirrors carry this in the top 32 bits of their cookie, the pid below.
COOKIE_TAG = 0x6566_6D69  # "efmi"
#: The register bit that says "this packet has been mirrored at this point".
REGISTER = "reg15"
MARK_MATCH = f"{REGISTER}=0/0x80000000"
MARK_SET = "load:1->NXM_NX_REG15[31]"
PRIORITY = 65535
#: How flows may name reg15: itself, or the wider registers that contain it.
_HOLDS_REGISTER = (REGISTER, "xreg7", "xxreg3")
_NAME = re.compile(r"^mirror_(\d+)$")
#: How often the terminal line is refreshed, in seconds.
STATUS_EVERY = 0.5


def action_name(pid: int) -> str:
    return f"mirror_{pid}"


def cookie_of(pid: int) -> int:
    return COOKIE_TAG << 32 | pid


def mirror_pid(flow: str) -> int | None:
    """The pid of the mirror that added ``flow`` (a dump-flows line), or None."""
    m = re.search(r"cookie=(0x[0-9a-f]+)", flow)
    cookie = int(m.group(1), 16) if m else 0
    return cookie & 0xFFFFFFFF if cookie >> 32 == COOKIE_TAG else None


@dataclass(kw_only=True)
class MirrorOptions:
    """What to capture, where, and for how long."""

    expression: str = ""
    bridge: str = "br0"
    in_port: str | None = None
    flow: str | None = None
    predicate: Path | None = None
    output: str = "-"
    count: int | None = None
    snaplen: int = MAX_SNAPLEN
    duration: float | None = None
    buffer_kib: int = 4096

    def check(self) -> None:
        if self.in_port is not None and self.flow is not None:
            raise MirrorError("give --in-port or --flow, not both")
        if self.count is not None and self.count < 1:
            raise MirrorError(f"-c {self.count}: give a count of at least 1")
        if self.duration is not None and self.duration <= 0:
            raise MirrorError(f"--duration {self.duration}: give a positive number of seconds")
        if not 1 <= self.snaplen <= MAX_SNAPLEN:
            raise MirrorError(f"-s {self.snaplen}: give a snap length of 1..{MAX_SNAPLEN} bytes")
        kib = self.buffer_kib
        if kib < 4 or kib & (kib - 1) or kib > 1 << 20:
            raise MirrorError(
                f"-B {kib}: the ring buffer is a power of two of 4 KiB to 1 GiB (4, 8, ... 4096)"
            )

    def point(self) -> tuple[int, str]:
        """The table the mirror goes into and the match that selects its packets."""
        if self.in_port is not None:
            return 0, f"in_port={self.in_port}"
        if self.flow is None:
            return 0, ""
        table, parts = 0, []
        for part in (p.strip() for p in self.flow.split(",")):
            key = part.split("=", 1)[0].strip()
            if key == "table":
                try:
                    table = int(part.split("=", 1)[1])
                except (IndexError, ValueError):
                    raise MirrorError(f"--flow {self.flow!r}: table=N needs a number") from None
            elif key in ("actions", "priority", "cookie", "idle_timeout", "hard_timeout"):
                raise MirrorError(
                    f"--flow {self.flow!r}: give only a match (and table=N); the mirror sets "
                    f"{key} itself"
                )
            elif part:
                parts.append(part)
        if not 0 <= table <= 253:
            raise MirrorError(f"--flow: table {table} is not an OpenFlow table (0..253)")
        return table, ",".join(parts)


@dataclass
class Counters:
    """What the action counted since it was registered."""

    seen: int = 0
    accepted: int = 0
    captured: int = 0
    ring_full: int = 0


@dataclass
class Summary:
    """The end of a mirror: what it wrote and what it counted."""

    written: int = 0
    counters: Counters = field(default_factory=Counters)
    stopped_by: str = ""
    flow: str = ""
    action: str = ""
    output: str = ""


class Mirror:
    """One mirror on ``switch``; a context manager that removes it on exit."""

    def __init__(
        self,
        switch: Switch,
        options: MirrorOptions,
        *,
        status: IO[str] | None = None,
        pid: int | None = None,
    ) -> None:
        options.check()
        self.switch = switch
        self.options = options
        self.status = status or sys.stderr
        self.pid = pid or os.getpid()
        self.name = action_name(self.pid)
        self.cookie = cookie_of(self.pid)
        self.source = switch.state_dir / f"{self.name}.c"
        self.flow = ""
        self._registered = False
        self._flow_added = False
        self._ring_fd: int | None = None  # the kernel's ring buffer, if the kernel runs it
        self._stats: LoadedMap | ActionMap | None = None  # the switch's if it runs the action
        self._stop_reason = ""
        self._running = False
        self._writer: RawPcapWriter | None = None
        self._created_output = False
        self._written = 0
        self._mono_to_real = 0

    # -- set-up ------------------------------------------------------------------------

    def start(self) -> None:
        """Check, build, prove, register, and insert the flow; all or nothing."""
        sw, opts = self.switch, self.options
        sw.require_running()
        if opts.bridge not in sw.bridges():
            known = ", ".join(sw.bridges()) or "none"
            raise OvsError(f"no bridge {opts.bridge!r} on {sw.run_dir} (bridges: {known})")
        reap_stale(sw)
        table, match = opts.point()
        self.flow = (
            f"table={table},priority={PRIORITY},cookie={self.cookie:#x},"
            + (f"{match}," if match else "")
            + f"{MARK_MATCH},actions=bpf({self.name}),{MARK_SET},resubmit(,{table})"
        )
        self._refuse_conflicts(table)
        self._check_match(match)
        try:
            sw.own_state_dir()
            write_action(
                self.source,
                opts.expression,
                snaplen=opts.snaplen,
                ring_bytes=opts.buffer_kib * 1024,
                predicate=opts.predicate,
            )
            self._open_output()
            # pass: a frame the kernel will not run the action on (an IPv4 or
            # IPv6 frame shorter than its header) is forwarded as without the
            # mirror, only not captured.
            record = registry.register(
                sw, self.name, self.source, read_only=True, unrunnable="pass"
            )
            self._registered = True
            if record.runs_on == "inproc":
                # The switch keeps the ring buffer and the counters: read them there.
                kept = sw.switch_maps(self.name, "mirror_stats")
                self._stats = SwitchActionMap(sw, self.name, kept["mirror_stats"])
            else:
                maps = Path(record.pin_folder) / "map"
                self._ring_fd = bpffs.open_pinned(maps / "mirror_ring")
                self._stats = bpffs.open_pinned_map(maps / "mirror_stats")
            sw.ofctl("add-flow", opts.bridge, self.flow)
            self._flow_added = True
        except BaseException:
            self.stop(failed=True)
            raise

    def _check_match(self, match: str) -> None:
        """ovs-ofctl must take the flow as it is: OVS silently drops a field whose
        prerequisite is missing (nw_dst without ip), which would mirror more."""
        done = subprocess.run(
            [str(self.switch.program("ovs-ofctl")), "parse-flow", self.flow],
            env=self.switch.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        said = self.options.flow or match
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "refused"
            raise MirrorError(f"--flow {said!r}: {why.removeprefix('ovs-ofctl: ')}")
        if "normalization changed" in done.stderr:
            raise MirrorError(
                f"--flow {said!r}: OVS would drop part of this match because a prerequisite "
                "is missing (nw_dst needs ip, tp_dst needs tcp or udp, ...); add it"
            )

    def _refuse_conflicts(self, table: int) -> None:
        """No other live mirror on the bridge, no flow using reg15, no tie at our priority."""
        for line in self.switch.ofctl("dump-flows", self.options.bridge).splitlines():
            if "actions=" not in line:
                continue
            other = mirror_pid(line)
            if other is not None:
                raise MirrorError(
                    f"a mirror already runs on {self.options.bridge} (pid {other}); "
                    "stop it first: one mirror per bridge"
                )
            if any(r in line.lower() for r in _HOLDS_REGISTER):
                raise MirrorError(
                    f"the flows of {self.options.bridge} use {REGISTER}, which the mirror needs "
                    f"to mark the packets it has seen: {line.strip()}"
                )
            if re.search(rf"\btable={table},.*priority={PRIORITY}\b", line) or (
                table == 0 and "table=" not in line and f"priority={PRIORITY}," in line
            ):
                raise MirrorError(
                    f"table {table} of {self.options.bridge} has a flow at priority {PRIORITY}, "
                    f"where the mirror would go: {line.strip()}"
                )

    def _open_output(self) -> None:
        out = self.options.output
        self._created_output = out != "-" and not os.path.exists(out)
        try:
            target: str | IO[bytes] = sys.stdout.buffer if out == "-" else out
            self._writer = RawPcapWriter(
                target,
                linktype=LINKTYPE_ETHERNET,
                nano=True,
                sync=True,
                snaplen=self.options.snaplen,
            )
            self._writer.write_header(None)
        except OSError as e:
            raise MirrorError(f"cannot write {out}: {e.strerror or e}") from None

    # -- capture -----------------------------------------------------------------------

    def counters(self) -> Counters:
        """The action's counters, read from its ``mirror_stats`` map."""
        if self._stats is None:
            return Counters()
        try:
            value = self._stats.lookup(bytes(4))
        except (MapError, OvsError):  # OvsError: the switch keeps them, and stopped
            value = None
        if value is None:
            return Counters()
        return Counters(
            *(int.from_bytes(value[i * 8 : i * 8 + 8], "little") for i in range(len(COUNTERS)))
        )

    def _on_record(self, raw: bytes) -> bool:
        limit = self.options.count
        if limit is not None and self._written >= limit:
            return True
        rec = decode_record(raw)
        assert self._writer is not None
        real = rec.ts_ns + self._mono_to_real
        self._writer.write_packet(
            rec.data,
            sec=real // 1_000_000_000,
            usec=real % 1_000_000_000,
            caplen=len(rec.data),
            wirelen=rec.wire_len,
        )
        self._written += 1
        return limit is not None and self._written >= limit

    def request_stop(self, reason: str) -> None:
        self._stop_reason = self._stop_reason or reason

    def run(self) -> Summary:
        """Capture until -c, --duration, a signal or a stopped switch; then clean up."""
        assert self._ring_fd is not None or isinstance(self._stats, SwitchActionMap)
        opts = self.options
        self._mono_to_real = _monotonic_to_realtime()
        deadline = time.monotonic() + opts.duration if opts.duration else None
        shown = Counters()
        next_status = next_alive_check = 0.0
        tty = self.status.isatty()
        self._running = True
        reader: RingReader | SwitchRingReader
        if self._ring_fd is None:
            reader = SwitchRingReader(self.switch, self.name, "mirror_ring", self._on_record)
        else:
            reader = RingReader(self._ring_fd, self._on_record)
        try:
            while not self._stop_reason:
                try:
                    reader.poll(100)
                except MirrorError:
                    if self.switch.running():
                        raise
                    raise self._switch_stopped() from None
                now = time.monotonic()
                if opts.count is not None and self._written >= opts.count:
                    self.request_stop(f"-c {opts.count}")
                elif deadline is not None and now >= deadline:
                    self.request_stop(f"--duration {opts.duration:g}")
                if now >= next_alive_check:
                    next_alive_check = now + 1
                    if not self.switch.running():
                        raise self._switch_stopped()
                if now >= next_status:
                    next_status = now + STATUS_EVERY
                    shown = self._show_status(shown, tty)
            # No new packets reach the action once its flow is gone; then
            # read what is left in the ring.
            self._remove_flow()
            reader.consume()
            final = self.counters()
            self._show_status(shown, tty, final=final)
        finally:
            self._running = False
            reader.close()
        return Summary(
            written=self._written,
            counters=final,
            stopped_by=self._stop_reason,
            flow=self.flow,
            action=self.name,
            output=opts.output,
        )

    def _switch_stopped(self) -> OvsError:
        return OvsError(
            f"the switch in {self.switch.run_dir} stopped while mirroring; "
            f"{self._written} packets were written to {self.options.output}"
        )

    def _show_status(self, shown: Counters, tty: bool, final: Counters | None = None) -> Counters:
        c = final or self.counters()
        if c.ring_full > shown.ring_full:
            if tty:
                self.status.write("\n")
            self.status.write(
                f"extframe mirror: warning: {c.ring_full - shown.ring_full} packets lost to a "
                f"full ring buffer ({c.ring_full} in all); raise -B (now {self.options.buffer_kib} "
                "KiB) or narrow the filter\n"
            )
        line = (
            f"{c.seen} seen, {c.accepted} matched, {self._written} written, "
            f"{c.ring_full} lost to a full ring buffer"
        )
        if tty:
            self.status.write(f"\r{line}\033[K" + ("\n" if final else ""))
        elif final or (c.seen, c.accepted, c.ring_full) != (
            shown.seen,
            shown.accepted,
            shown.ring_full,
        ):
            self.status.write(line + "\n")
        self.status.flush()
        return c

    # -- tear-down -----------------------------------------------------------------------

    def _remove_flow(self) -> None:
        if self._flow_added:
            with contextlib.suppress(ExtframeError):
                self.switch.ofctl("del-flows", self.options.bridge, f"cookie={self.cookie:#x}/-1")
            self._flow_added = False

    def stop(self, *, failed: bool = False) -> None:
        """Remove the flow, the registration, the pins and the generated source.

        ``failed``: the mirror never started; a pcap it created goes too.
        """
        self._remove_flow()
        stats_fd = self._stats.fd if isinstance(self._stats, LoadedMap) else None
        for fd in (self._ring_fd, stats_fd):
            if fd is not None:
                os.close(fd)
        self._ring_fd, self._stats = None, None
        if self._registered:
            try:
                registry.unregister(self.switch, self.name, force=True)
            except ExtframeError:
                registry.forget(self.switch, self.name)  # the switch is gone
            self._registered = False
        self.source.unlink(missing_ok=True)
        if self._writer is not None:
            if self.options.output == "-":
                self._writer.f.flush()
            else:
                self._writer.close()
            self._writer = None
        if failed and self._created_output:
            with contextlib.suppress(OSError):
                os.unlink(self.options.output)

    def __enter__(self) -> Mirror:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM stop the capture cleanly (during set-up: abort it)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            if not self._running:
                raise KeyboardInterrupt
            self.request_stop(signal.Signals(signum).name)

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def _monotonic_to_realtime() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC (what bpf_ktime_get_ns reads), in ns."""
    best: tuple[int, int] | None = None
    for _ in range(5):  # the tightest of a few samples
        a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if best is None or b - a < best[0]:
            best = (b - a, r - (a + b) // 2)
    assert best is not None
    return best[1]


def reap_stale(switch: Switch) -> list[str]:
    """Remove what mirrors that died (kill -9, a crash) left on ``switch``."""
    reaped = []
    live_pids = {int(m.group(1)) for n in switch.registered() if (m := _NAME.match(n))}
    flow_pids: dict[int, list[str]] = {}
    for bridge in switch.bridges():
        for line in switch.ofctl("dump-flows", bridge).splitlines():
            pid = mirror_pid(line)
            if pid is not None:
                flow_pids.setdefault(pid, []).append(bridge)
    for pid in sorted(live_pids | set(flow_pids)):
        if pid == os.getpid() or _alive(pid):
            continue
        for bridge in flow_pids.get(pid, []):
            switch.ofctl("del-flows", bridge, f"cookie={cookie_of(pid):#x}/-1")
        if pid in live_pids:
            registry.unregister(switch, action_name(pid), force=True)
        (switch.state_dir / f"{action_name(pid)}.c").unlink(missing_ok=True)
        reaped.append(action_name(pid))
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def summary_json(s: Summary) -> dict[str, Any]:
    return {
        "written": s.written,
        "seen": s.counters.seen,
        "matched": s.counters.accepted,
        "captured": s.counters.captured,
        "ring_full": s.counters.ring_full,
        "stopped_by": s.stopped_by,
        "flow": s.flow,
        "action": s.action,
        "output": s.output,
    }
