"""Register actions with a running patched ovs-vswitchd, from the analysis.

``register`` is one transaction: build (for ``.c``), load through the
verifier, analyse that very load, pin under the switch's own folder of
bpffs (``/sys/fs/bpf/extframe_ovs/<switch>/<NAME>/{prog,map}``), then
``ovs-appctl bpf/add NAME PIN reclassify=no|lazy|yes [fields=...] [unrunnable=pass]``,
then write the record that ``list`` shows (``<rundir>/extframe/<NAME>.json``).
A failure at any step undoes the steps before it, so there is never a pin
without a registration or a registration without its record.

The re-classification comes from the analysis, ``fields=`` from the fields
it proved written, in OVS's names (extframe/ovs/fields.py):

- ``read_only``: ``reclassify=no``;
- ``writes`` to payload or checksums only: ``reclassify=no``;
- ``writes`` that may touch OVS's flow key (a header field, a length or
  layout change, ``skb->mark`` or ``skb->priority``): ``reclassify=lazy``
  with ``fields=`` the OVS fields they may change (``nw_ttl`` for ``ip.ttl``;
  ``unknown``, every field, for a length or layout change or for bytes the
  analysis could name only on an assumed frame layout): the switch goes on
  in the same megaflow and recirculates only before the first step that may
  observe one of them (a lookup in a table that matches on it, an action
  that reads or writes it);
- ``unknown``: refused, unless ``allow_unknown``, which registers it as
  ``reclassify=lazy fields=unknown``.

The record keeps both names: ``fields`` the analyzer's, ``ovs_fields`` what
the switch was sent, ``field_basis`` which of the former each of the latter
stands for.

``unrunnable`` says what the switch does with a packet the kernel refuses
to run the program on (``BPF_PROG_TEST_RUN`` fails: since Linux commit
12bec2bd4b76, an IPv4 or IPv6 frame shorter than its header): ``"drop"``,
the default, drops it and counts an error; ``"pass"`` forwards it exactly
as it came. ``"pass"`` is for observers whose skipping is harmless (mirrors,
counters); it is the operator's choice, stated on every register and
replace, not the proof's.

``force_reclassify`` registers an action with ``reclassify=yes``
(recirculate right after it) whatever its proof says: what a switch without
the analysis must do, for benchmarks and comparisons (``extframe register
--reclassify yes``); ``fields=`` still names what the proof found. It can
only make the decision more conservative; nothing forces ``reclassify=no``
or ``lazy``.

``replace`` swaps the program under the same name (the datapath swaps it
under RCU: no packet sees a freed program). Its maps are new: the old
program's state is not carried over. ``unregister`` refuses while OpenFlow
flows name the action, unless ``force``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, model_validator

from analyzer.effects import Analysis, ProgramEffects
from analyzer.elf import ProgramSpec
from extframe.check import load_checked
from extframe.errors import LoadError, OvsError, PinError
from extframe.kernel import LoadedObject, bpffs, program_identity
from extframe.ovs.fields import UNKNOWN, describe, listed, ovs_basis
from extframe.ovs.options import BY_KEY, OPTIONS, arguments
from extframe.ovs.switch import ACTION_NAME, Registered, Switch, check_action_name
from extframe.owned import replace_file

#: bpf/replace keeps the old pins here until the new program is in place.
#: Longer than 15 characters, so never the name of an action.
_OLD = "_being_replaced"

#: What the switch does with a packet the kernel refuses to run the program on.
Unrunnable = Literal["drop", "pass"]

#: Whether and when the switch re-classifies after the action (extframe/ovs/options.py).
Reclassify = Literal["yes", "no", "lazy"]


class Unregistered(TypedDict):
    """What ``unregister`` removed, and the flows that still name the action."""

    name: str
    removed: list[str]
    flows_still_using: list[str]


class Dropped(TypedDict):
    name: str
    why: str


class Restored(TypedDict):
    """What ``restore`` registered again, dropped for good (and why), kept after a
    failure (and why; ``restore`` again retries them) and removed."""

    restored: list[str]
    dropped: list[Dropped]
    failed: list[Dropped]
    removed: list[str]


class Record(BaseModel):
    """What extframe knows about an action it registered: the proof behind it."""

    name: str
    source: str
    program: str
    verdict: str
    flow_key_affected: bool
    #: Whether the switch may re-classify after the action: ``reclassify_mode``
    #: is yes or lazy.
    reclassify: bool
    #: The analyzer's names of what the action writes (analyzer/fields.py).
    fields: list[str]
    reasons: list[str]
    writes: list[dict[str, Any]]
    pin_folder: str
    program_pin: str
    maps: list[str]
    allow_unknown: bool
    registered_at: float
    replaced: int = 0
    unrunnable: Unrunnable = "drop"
    reclassify_forced: bool = False
    #: The kernel's id and tag of the program this proof is about: the
    #: record speaks for the switch's registration only while it runs it.
    prog_id: int | None = None
    prog_tag: str | None = None
    #: Every registration option as it was sent to the switch, by key
    #: (extframe/ovs/options.py); None in records written before it was kept.
    options: dict[str, Any] | None = None
    #: What the switch said runs the action ("inproc" or "kernel") and, for
    #: the kernel, why; None before the switch had a choice.
    runs_on: str | None = None
    runs_on_reason: str = ""
    #: ``reclassify=`` as sent: yes, no or lazy. A record from when it was a
    #: bool loads as yes or no (``_older``).
    reclassify_mode: Reclassify
    #: ``fields=`` as sent: OVS's names (extframe/ovs/fields.py), or unknown.
    ovs_fields: list[str] = []
    #: Each of ``ovs_fields`` with the analyzer names behind it.
    field_basis: dict[str, list[str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _older(cls, data: Any) -> Any:
        """A record written when ``reclassify`` was yes or no (a bool) and ``fields=``
        held the analyzer's names, which the switch no longer takes: yes stays yes
        and no stays no, both without fields, so ``restore`` sends what a switch accepts."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "reclassify_mode" not in data and isinstance(data.get("reclassify"), bool):
            data["reclassify_mode"] = "yes" if data["reclassify"] else "no"
        options = data.get("options")
        if isinstance(options, dict) and isinstance(options.get("reclassify"), bool):
            mode = "yes" if options["reclassify"] else "no"
            data["options"] = {k: v for k, v in options.items() if k != "fields"} | {
                "reclassify": mode
            }
        return data

    def sent(self) -> dict[str, Any]:
        """The registration options sent for this record, by key."""
        if self.options is not None:
            return dict(self.options)
        return {
            "reclassify": self.reclassify_mode,
            "fields": self.ovs_fields,
            "unrunnable": self.unrunnable,
        }

    def describes(self, registered: Registered) -> bool:
        """Whether the switch's registration runs the very program this record proved."""
        if self.prog_id is None:  # written before records held it: the pin still may
            return _pinned_id(self.program_pin) == registered.prog_id
        return self.prog_id == registered.prog_id

    def basis(self) -> str:
        """The OVS fields sent with the analyzer's names behind them: ``nw_ttl (ip.ttl)``;
        for ``unknown``, what made every field possible: ``any field (length)``."""
        if self.verdict == "unknown":
            return "any field (its effects are unknown)"
        if self.ovs_fields == [UNKNOWN]:
            why = self.field_basis.get(UNKNOWN, [])
            return "any field" + (f" ({listed(why)})" if why else "")
        return describe(self.field_basis) or ", ".join(self.ovs_fields)

    def decision(self) -> str:
        """Why the switch re-classifies after this action, when, or why not, in one phrase."""
        proof_needs = self.flow_key_affected or self.verdict == "unknown"
        if self.reclassify_mode == "yes":
            if not self.reclassify_forced:  # a record from before lazy re-classification
                if self.verdict == "unknown":
                    return "re-classify right after it (unknown: treated as writing everything)"
                return "re-classify right after it (writes what flows match on)"
            why = (
                f"the proof needs it only before a step that reads {self.basis()}"
                if proof_needs
                else "the proof does not need it"
            )
            return f"re-classify right after it (forced with --reclassify yes; {why})"
        if self.reclassify_mode == "lazy":
            return (
                "re-classify lazily: the switch recirculates only before a step that reads "
                + self.basis()
            )
        if self.verdict == "read_only":
            return "no re-classification (proved read-only)"
        return "no re-classification (writes outside the flow key only)"

    def arguments(self) -> str:
        """``reclassify=lazy fields=nw_ttl``: the decision as the switch was told it."""
        sent = self.sent()
        fields = sent.get("fields") or []
        return f"reclassify={sent['reclassify']}" + (
            f" fields={','.join(fields)}" if fields else ""
        )


def _pinned_id(pin: str | Path) -> int | None:
    """The kernel's id of the program pinned at ``pin``; None when there is none."""
    try:
        fd = bpffs.open_pinned(Path(pin))
    except PinError:
        return None
    try:
        return program_identity(fd)[0]
    except LoadError:
        return None
    finally:
        os.close(fd)


def _record_path(switch: Switch, name: str) -> Path:
    return switch.state_dir / f"{name}.json"


def _insns_path(switch: Switch, name: str, prog_tag: str) -> Path:
    """Where the instructions of ``name``'s program with ``prog_tag`` are kept for the switch.

    By tag, so that a replace that fails leaves the running program's file in place.
    """
    return switch.state_dir / f"{name}.{prog_tag}.insns"


def _insns_files(switch: Switch, name: str) -> list[Path]:
    return sorted(switch.state_dir.glob(f"{glob.escape(name)}.*.insns"))


def read_record(switch: Switch, name: str) -> Record | None:
    try:
        return Record.model_validate_json(_record_path(switch, name).read_text())
    except (OSError, ValueError):
        return None


def _write_record(switch: Switch, record: Record) -> None:
    data = (record.model_dump_json(indent=2) + "\n").encode()
    replace_file(_record_path(switch, record.name), data, mode=0o600)


def _writes(effects: ProgramEffects) -> list[dict[str, Any]]:
    """Each write with the C line behind it: what a reviewer checks first."""
    out: list[dict[str, Any]] = [
        {"source": w.source, "insn": w.insn, "via": w.via, "fields": w.fields}
        for w in effects.packet_writes
    ]
    out += [
        {"source": m.source, "insn": m.insn, "via": m.via, "fields": [m.field]}
        for m in effects.metadata_writes
    ]
    out += [
        {"source": c.source, "insn": c.insn, "via": c.helper, "fields": ["length"]}
        for c in effects.length_changes
    ]
    return sorted(out, key=lambda w: w["insn"])


def _why_not(effects: ProgramEffects) -> str:
    """What keeps ``effects`` from read-only, with C lines, in one line."""
    if effects.verdict == "unknown":
        return "its effects could not be proved (" + "; ".join(effects.reasons[:2]) + ")"
    shown = [
        f"{w['source'] or 'insn ' + str(w['insn'])} writes {', '.join(w['fields'])}"
        for w in _writes(effects)[:3]
    ]
    return "; ".join(shown) or "; ".join(effects.reasons[:2])


def _fields(effects: ProgramEffects) -> list[str]:
    if effects.verdict == "unknown":
        return ["unknown"]
    return sorted(effects.effect_names())


def _prove(
    path: Path, name: str, program: str | None, allow_unknown: bool
) -> tuple[LoadedObject, Analysis]:
    """Load and analyse ``path``; refuse what cannot run as an OVS action."""
    if not path.exists():
        raise OvsError(f"{path}: no such file (an action is a .c source or a built .o)")
    loaded, checked = load_checked(path)
    try:
        names = [a.program.name for a in checked.analyses]
        if program is None and len(names) > 1:
            raise OvsError(
                f"{path} holds {len(names)} programs ({', '.join(names)}): pick one with --program"
            )
        chosen = program or names[0]
        if chosen not in names:
            raise OvsError(f"{path}: no program {chosen!r} (programs: {', '.join(names)})")
        analysis = next(a for a in checked.analyses if a.program.name == chosen)
        effects = analysis.effects
        if effects.type != "tc":
            raise OvsError(
                f"{path}: {chosen} is an {effects.type} program; OVS runs tc programs "
                '(SEC("tc")) as actions'
            )
        if effects.verdict == "unknown" and not allow_unknown:
            why = "; ".join(effects.reasons[:2]) or "no reason recorded"
            raise OvsError(
                f"{name}: the analysis of {path} could not prove its effects ({why}): fix the "
                "action, or pass --allow-unknown to register it as re-classifying everything"
            )
    except BaseException:
        loaded.close()
        raise
    return loaded, analysis


def reclassification(
    effects: ProgramEffects, *, force: bool = False
) -> tuple[Reclassify, dict[str, list[str]]]:
    """The proof's decision and ``fields=``, each OVS field with the analyzer names behind it.

    ``lazy`` before a step that reads what the action may change, ``no`` when
    that is nothing; ``yes`` when forced, never ``no`` against the proof.
    """
    basis = ovs_basis(effects)
    if force:
        return "yes", basis
    return ("lazy" if basis else "no"), basis


def _record(
    switch: Switch,
    name: str,
    action: Path,
    loaded: LoadedObject,
    effects: ProgramEffects,
    pinned: bpffs.Pinned,
    allow_unknown: bool,
    operator_options: Mapping[str, Any],
    force_reclassify: bool,
) -> Record:
    """The record of a registration, and the instructions file it sends the switch."""
    program = loaded.program(effects.program)
    prog_id, prog_tag = program.identity()
    insns = _insns_path(switch, name, prog_tag)
    replace_file(insns, program.insns, mode=0o600)
    mode, basis = reclassification(effects, force=force_reclassify)
    sent = dict(operator_options) | {
        "reclassify": mode,
        "fields": list(basis),
        "insns": str(insns),
    }
    return Record(
        name=name,
        source=str(action),
        program=effects.program,
        verdict=effects.verdict,
        flow_key_affected=effects.flow_key_affected,
        reclassify=mode != "no",
        reclassify_mode=mode,
        reclassify_forced=force_reclassify,
        fields=_fields(effects),
        ovs_fields=list(basis),
        field_basis=basis,
        reasons=effects.reasons,
        writes=_writes(effects),
        pin_folder=str(pinned.folder),
        program_pin=str(pinned.programs[effects.program]),
        maps=sorted(pinned.maps),
        allow_unknown=allow_unknown,
        registered_at=time.time(),
        unrunnable=sent["unrunnable"],
        prog_id=prog_id,
        prog_tag=prog_tag,
        options=sent,
    )


def _note_executor(switch: Switch, record: Record, program: ProgramSpec) -> None:
    """Keep in ``record`` what runs the action, as the switch says, with C lines for insns."""
    registered = switch.registered().get(record.name)
    if registered is None:
        return
    record.runs_on = registered.runs_on
    record.runs_on_reason = _with_lines(registered.runs_on_reason, program)


def _with_lines(reason: str, program: ProgramSpec) -> str:
    """``reason`` with the C line after each ``insn N`` the switch names."""

    def line(m: re.Match[str]) -> str:
        where = program.source_line(int(m.group(1)))
        if where is None or not where.line:
            return m.group(0)
        return f"{m.group(0)} ({Path(where.file).name}:{where.line}: {where.text.strip()})"

    return _INSN.sub(line, reason)


_INSN = re.compile(r"\binsn (\d+)\b")


def _with_lines_on_error(program: ProgramSpec, fn: Callable[..., str], *args: str) -> str:
    """``fn(*args)``; an ``OvsError`` it raises gets the C line of each ``insn N`` it names."""
    try:
        return fn(*args)
    except OvsError as e:
        raise OvsError(_with_lines(str(e), program)) from None


def _preflight(
    switch: Switch, name: str, unrunnable: str, options: Mapping[str, Any]
) -> dict[str, Any]:
    """What register and replace check before they load anything; the operator's options.

    ``options`` are the operator's (``unrunnable`` is one of them, and a
    value in ``options`` wins); each is checked against its row of OPTIONS.
    """
    check_action_name(name)
    chosen = {"unrunnable": unrunnable} | dict(options)
    for key, value in chosen.items():
        option = BY_KEY.get(key)
        if option is None or not option.operator:
            stated = ", ".join(o.key for o in OPTIONS if o.operator)
            raise OvsError(f"{key}: not an option the operator states (those are: {stated})")
        try:
            option.check(value)
        except ValueError:
            choices = " or ".join(repr(c) for c in option.choices()) or str(option.type)
            raise OvsError(f"{key}={value!r}: expected {choices}") from None
    bpffs.require_bpffs(switch.pin_root)
    switch.require_running()
    bpffs.own_folder(switch.pin_root)
    return chosen


def _add_args(record: Record) -> list[str]:
    """The arguments of bpf/add and bpf/replace: the proof's decision and write set.

    Built from the record, so that a registration restored after a crash of
    ovs-vswitchd says exactly what the first one said; an option at the
    switch's default is left out (options.arguments), so a call works with
    a switch that predates the option.
    """
    return [record.name, record.program_pin, *arguments(record.sent())]


def register(
    switch: Switch,
    name: str,
    action: Path,
    *,
    program: str | None = None,
    allow_unknown: bool = False,
    read_only: bool = False,
    unrunnable: Unrunnable = "drop",
    force_reclassify: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Record:
    """Build, load, analyse, pin and register ``action`` as ``name``; all or nothing.

    ``read_only`` refuses, before anything is pinned, an action that is not
    proved read-only (the mirror's promise that it cannot change forwarding).
    ``unrunnable="pass"`` lets packets the kernel cannot run the program on go
    on unchanged instead of being dropped.
    """
    chosen = _preflight(switch, name, unrunnable, options or {})
    with switch.lock():
        if name in switch.registered():
            raise OvsError(
                f"{name} is already registered: `extframe replace {name} ACTION` swaps its "
                f"program, `extframe unregister {name}` removes it"
            )
        _forget(switch, name)  # what a registration that died half-way left
        loaded, analysis = _prove(action, name, program, allow_unknown)
        effects = analysis.effects
        with loaded:
            if read_only and effects.verdict != "read_only":
                raise OvsError(
                    f"{name} is not proved read-only, as it must be: {_why_not(effects)}"
                )
            pinned = bpffs.pin(loaded, name, root=switch.pin_root)
            added = False
            try:
                record = _record(
                    switch,
                    name,
                    action,
                    loaded,
                    effects,
                    pinned,
                    allow_unknown,
                    chosen,
                    force_reclassify,
                )
                _with_lines_on_error(analysis.program, switch.appctl, "bpf/add", *_add_args(record))
                added = True
                _note_executor(switch, record, analysis.program)
                _write_record(switch, record)
            except BaseException:
                if added:
                    _quietly(switch.appctl, "bpf/del", name)
                _forget(switch, name)
                raise
    return record


def replace(
    switch: Switch,
    name: str,
    action: Path,
    *,
    program: str | None = None,
    allow_unknown: bool = False,
    unrunnable: Unrunnable = "drop",
    force_reclassify: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Record:
    """Swap the program registered as ``name`` for ``action``'s, while traffic flows.

    Like bpf/replace, it states ``unrunnable`` afresh: leaving it out means
    "drop", whatever the old registration said.
    """
    chosen = _preflight(switch, name, unrunnable, options or {})
    with switch.lock():
        current = switch.registered().get(name)
        if current is None:
            raise OvsError(f"{name} is not registered: `extframe register {name} ACTION` adds it")
        old = read_record(switch, name)
        if old is not None and not old.describes(current):
            old = None  # the switch runs a program extframe did not register: no history
        loaded, analysis = _prove(action, name, program, allow_unknown)
        effects = analysis.effects
        with loaded:
            folder = switch.pin_root / name
            parked = switch.pin_root / (name + _OLD)
            shutil.rmtree(parked, ignore_errors=True)
            if folder.exists():
                os.rename(folder, parked)  # the switch holds the old program by its fd
            try:
                pinned = bpffs.pin(loaded, name, root=switch.pin_root)
                try:
                    record = _record(
                        switch,
                        name,
                        action,
                        loaded,
                        effects,
                        pinned,
                        allow_unknown,
                        chosen,
                        force_reclassify,
                    )
                    _with_lines_on_error(
                        analysis.program, switch.appctl, "bpf/replace", *_add_args(record)
                    )
                except BaseException:
                    shutil.rmtree(pinned.folder, ignore_errors=True)
                    _remove_unused_insns(switch)
                    raise
            except BaseException:
                if parked.exists():
                    os.rename(parked, folder)
                raise
            _note_executor(switch, record, analysis.program)
            if old is not None:
                record.registered_at = old.registered_at
            record.replaced = (old.replaced + 1) if old else 1
            _write_record(switch, record)
            # Only now: until the record names the new program, restore needs the old pins
            # and instructions.
            shutil.rmtree(parked, ignore_errors=True)
            for old_insns in _insns_files(switch, name):
                if str(old_insns) != record.sent().get("insns"):
                    old_insns.unlink(missing_ok=True)
    return record


def unregister(switch: Switch, name: str, *, force: bool = False) -> Unregistered:
    """Remove ``name`` from the switch, its pins and its record."""
    check_action_name(name)
    switch.require_running()
    with switch.lock():
        registered = name in switch.registered()
        users = switch.flows_using(name) if registered else []
        if not registered:
            leftovers = _forget(switch, name)
            if not leftovers:
                known = ", ".join(sorted(switch.registered())) or "none"
                raise OvsError(f"{name}: no such action on {switch.run_dir} (registered: {known})")
            return {"name": name, "removed": leftovers, "flows_still_using": []}
        if users and not force:
            shown = "; ".join(f"{b}: {f}" for b, f in users[:3])
            more = f" and {len(users) - 3} more" if len(users) > 3 else ""
            raise OvsError(
                f"{name} is used by {len(users)} flow(s) ({shown}{more}): delete them "
                f"(ovs-ofctl del-flows BRIDGE MATCH) or pass --force, after which they drop "
                "their packets"
            )
        switch.appctl("bpf/del", name)
        removed = _forget(switch, name)
    return {"name": name, "removed": removed, "flows_still_using": [f for _, f in users]}


def list_actions(switch: Switch) -> list[dict[str, Any]]:
    """Every action the switch has, with extframe's record and the switch's counters."""
    switch.require_running()
    out = []
    for name, reg in sorted(switch.registered().items()):
        record = read_record(switch, name)
        if record is not None and not record.describes(reg):
            record = None  # the switch runs another program under this name
        counters = switch.counters(name)
        out.append(
            {
                "name": name,
                "verdict": record.verdict if record else None,
                **reg.options,
                "proved_fields": record.fields if record else [],
                "field_basis": record.field_basis if record else {},
                "source": record.source if record else None,
                "registered_by_extframe": record is not None,
                "program_pin": reg.path,
                "prog_id": reg.prog_id,
                "maps": record.maps if record else [],
                "runs_on": reg.runs_on,
                "runs_on_reason": (
                    record.runs_on_reason
                    if record and record.runs_on == reg.runs_on and record.runs_on_reason
                    else reg.runs_on_reason
                ),
                "packets": counters.get("packets", 0),
                "drops": counters.get("drops", 0),
                "errors": counters.get("errors", 0),
                "unrunnable_packets": counters.get("unrunnable", 0),
                "run_time_ns": counters.get("run_time_ns", 0),
                "replaced": counters.get("replaced", 0),
            }
        )
    return out


def restore(switch: Switch) -> Restored:
    """Register again what a restarted ovs-vswitchd lost, from extframe's records and pins.

    The registry lives in ovs-vswitchd's memory: a crash or a restart
    empties it, while the records and the pinned programs stay. For each
    record whose name the switch does not have, the program pinned for it
    must still be the one the record proved (the kernel's program id); it
    is then added with the record's own decision (the same ``bpf/add``
    arguments as at registration). A ``replace`` that died half-way is
    rolled back to the program the record proved. A record whose program
    is gone or another is dropped with its pins, and the reason is said.
    Pins that no registration uses are removed. What the switch still has
    is left as it is.
    """
    switch.require_running()
    restored: list[str] = []
    dropped: list[Dropped] = []
    failed: list[Dropped] = []
    removed: list[str] = []
    with switch.lock():
        have = switch.registered()
        there = bpffs.owned_if_there(switch.pin_root)  # never remove through a planted link
        for name in _recorded_names(switch):
            if name in have:
                continue
            record = read_record(switch, name)
            if record is None:  # kept: the proof may be read again once the file is mended
                failed.append({"name": name, "why": "its record cannot be read"})
                continue
            why = _restore_pins(switch, record) if there else "no pins are left"
            if why is not None:  # proven gone or another: dropped for good
                removed += _forget(switch, name)
                dropped.append({"name": name, "why": why})
                continue
            try:
                switch.appctl("bpf/add", *_add_args(record))
                restored.append(name)
            except OvsError as e:  # the switch's trouble, maybe passing: keep record and pins
                failed.append({"name": name, "why": f"the switch refused it ({e})"})
        kept = set(switch.registered()) | {f["name"] for f in failed}
        if there:
            for folder in sorted(switch.pin_root.iterdir()):
                if folder.name not in kept:  # parked by a replace, or never registered
                    removed += sorted(str(p) for p in folder.rglob("*") if not p.is_dir())
                    shutil.rmtree(folder, ignore_errors=True)
        removed += _remove_unused_insns(switch)
    return {"restored": restored, "dropped": dropped, "failed": failed, "removed": removed}


def _remove_unused_insns(switch: Switch) -> list[str]:
    """Remove the instruction files no record names (a replace that died half-way)."""
    used: set[str] = set()
    for name in _recorded_names(switch):
        record = read_record(switch, name)
        if record is None:  # unreadable: keep what may be its files
            used.update(str(p) for p in _insns_files(switch, name))
        else:
            used.add(record.sent().get("insns", ""))
    removed = []
    for path in sorted(switch.state_dir.glob("*.insns")):
        if str(path) not in used:
            path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


def _recorded_names(switch: Switch) -> list[str]:
    """The names extframe holds records for on this switch."""
    if not switch.state_dir.is_dir():
        return []
    names = (p.name.removesuffix(".json") for p in switch.state_dir.glob("*.json"))
    return sorted(n for n in names if ACTION_NAME.match(n))


def _restore_pins(switch: Switch, record: Record) -> str | None:
    """None when ``record``'s pins hold the program it proved (put back if parked); else why not."""
    folder = Path(record.pin_folder)
    pin = Path(record.program_pin)
    if folder != switch.pin_root / record.name or pin.parent.parent != folder:
        return f"its record names pins outside {switch.pin_root / record.name}"
    if record.prog_id is None:
        return "its record predates program ids, so its pin cannot be proven: register it again"
    found = _pinned_id(pin)
    if found == record.prog_id:
        return None
    parked = switch.pin_root / (record.name + _OLD)
    parked_pin = parked / pin.relative_to(folder)
    if _pinned_id(parked_pin) == record.prog_id:
        # A replace died between parking the old pins and the switch's answer.
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(parked, folder)
        except OSError as e:
            return f"its parked pins could not be put back ({e.strerror})"
        return None
    if found is None:
        return f"its pinned program {pin} is gone"
    return f"{pin} holds program id {found}, not the id {record.prog_id} the record proved"


def forget(switch: Switch, name: str) -> list[str]:
    """Remove what extframe keeps of ``name`` (pins, record) without asking the switch.

    For a switch that is gone: its registrations went with its process.
    """
    return _forget(switch, name)


def _forget(switch: Switch, name: str) -> list[str]:
    """Remove ``name``'s pins and record; return what was removed."""
    removed = []
    if not bpffs.owned_if_there(switch.pin_root):  # never remove through a planted link
        return _forget_record(switch, name)
    for folder in (switch.pin_root / name, switch.pin_root / (name + _OLD)):
        if folder.exists():
            removed += sorted(str(p) for p in folder.rglob("*") if not p.is_dir())
            shutil.rmtree(folder, ignore_errors=True)
    return removed + _forget_record(switch, name)


def _forget_record(switch: Switch, name: str) -> list[str]:
    removed = []
    for path in [*_insns_files(switch, name), _record_path(switch, name)]:
        if path.exists():
            path.unlink()
            removed.append(str(path))
    return removed


def _quietly(fn: Any, *args: str) -> None:
    with contextlib.suppress(OvsError):
        fn(*args)
