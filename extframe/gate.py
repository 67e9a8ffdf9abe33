"""``extframe check`` as a gate: proven effects against the declaration and the lock.

A ``Finding`` is one way an action departs from what it declares or from
what the lock file recorded, with the C line responsible where there is
one. The kinds of finding are one table, ``RULES``: each has an id (the
SARIF rule id), a level and a description. ``error`` findings fail the
check (exit 1, or 3 for a verifier rejection); ``warning`` and ``note``
are printed and do not. How the decisions were made:
docs/decisions/0005-check-gate.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analyzer.effects import Analysis, ProgramEffects
from extframe.check import Checked
from extframe.errors import ExtframeError
from extframe.inputs import read_input
from extframe.lockfile import Difference, Entry, compare, map_item, program_entry
from extframe.manifest import Declaration

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Rule:
    """One kind of finding: SARIF's reportingDescriptor."""

    id: str
    name: str
    level: Level
    short: str
    full: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        Rule(
            "exceeds-declaration",
            "ExceedsDeclaration",
            "error",
            "The action may change something its declaration does not name.",
            "The analyzer proved that the program may write an effect (a header field, "
            "metadata or the packet length) that EXTFRAME_EFFECTS or ACTION.effects.toml "
            "does not declare. Declare it, or change the code so it no longer writes it.",
        ),
        Rule(
            "unproven",
            "Unproven",
            "error",
            "The analyzer could not prove the action's effects (verdict unknown).",
            "The proof could not be completed, so OVS treats the action as writing "
            "everything, which no declaration allows. The reasons name what was missing.",
        ),
        Rule(
            "verifier-rejected",
            "VerifierRejected",
            "error",
            "The kernel verifier rejected the program.",
            "The program does not load; nothing about it is proven. The message gives "
            "the verifier's reason and the C line it points at.",
        ),
        Rule(
            "differs-from-lock",
            "DiffersFromLock",
            "error",
            "The action's proven effects differ from the lock file.",
            "What the action may do changed since the lock file was written. If the change "
            "is intended, run `extframe lock` and commit the lock file with the change, so "
            "that the reviewer sees it.",
        ),
        Rule(
            "not-locked",
            "NotLocked",
            "error",
            "The action has no entry in the lock file.",
            "A new action or program: run `extframe lock` and commit the lock file.",
        ),
        Rule(
            "stale-allowance",
            "StaleAllowance",
            "error",
            "An accepted analyzer limit names effects the proof no longer has.",
            "wider_than_declared in ACTION.effects.toml must list exactly the proven "
            "effects beyond the declaration; remove the ones named, so that they cannot "
            "come back unnoticed.",
        ),
        Rule(
            "accepted-analyzer-limit",
            "AcceptedAnalyzerLimit",
            "warning",
            "The proof is wider than the declaration, as accepted in the action's manifest.",
            "A reviewed allowance (wider_than_declared in ACTION.effects.toml) accepts "
            "these proven effects beyond the declaration because of a known analyzer "
            "precision limit; the reason is quoted. It is reported on every run.",
        ),
        Rule(
            "declared-not-proven",
            "DeclaredNotProven",
            "warning",
            "The declaration names effects the action does not have.",
            "The declaration claims more than the analyzer found; OVS registers the proven "
            "effects. Narrow the declaration unless the code is about to grow into it.",
        ),
        Rule(
            "undeclared",
            "Undeclared",
            "note",
            "The action declares no effects.",
            "Without EXTFRAME_EFFECTS or ACTION.effects.toml nothing is compared but the "
            "lock file. Declare the effects the action is meant to have.",
        ),
    ]
}


@dataclass(frozen=True, kw_only=True)
class Location:
    """A place in a file: ``line`` and ``column`` 1-based (0: unknown), with the line's text."""

    file: str
    line: int = 0
    column: int = 0
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One departure of one program from its declaration or its lock entry."""

    rule: str
    action: str
    program: str
    message: str
    effect: str | None = None
    location: Location | None = None

    @property
    def level(self) -> Level:
        return RULES[self.rule].level

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (absent fields omitted, as bpftool does)."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "level": self.level,
            "action": self.action,
            "program": self.program,
            "message": self.message,
        }
        if self.effect is not None:
            out["effect"] = self.effect
        if self.location is not None:
            out["file"] = self.location.file
            if self.location.line:
                out["line"] = self.location.line
            if self.location.column:
                out["column"] = self.location.column
            if self.location.text:
                out["source_text"] = self.location.text
        return out


def display_path(path: str | Path) -> str:
    """``path`` relative to the working folder when below it, else as it is."""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(p)


# --- where an effect comes from --------------------------------------------------------


#: The instructions behind an item of each list key of a lock entry.
_INSNS: dict[str, Callable[[ProgramEffects, str], list[int]]] = {
    "writes": lambda e, item: [w.insn for w in e.packet_writes if item in w.fields],
    "metadata_writes": lambda e, item: [m.insn for m in e.metadata_writes if m.field == item],
    "length_changes": lambda e, item: [c.insn for c in e.length_changes if c.helper == item],
    "helpers": lambda e, item: [h.insn for h in e.helpers if h.name == item],
    "maps": lambda e, item: [
        i for m in e.maps if map_item(m.name, m.type, m.read, m.written) == item for i in m.insns
    ],
}


def _first_insn(effects: ProgramEffects, key: str, item: str) -> int | None:
    """The first instruction behind ``item`` of the lock entry's list ``key``."""
    insns = _INSNS[key](effects, item) if key in _INSNS else []
    return min(insns) if insns else None


def _effect_insn(effects: ProgramEffects, name: str) -> int | None:
    """The first instruction that has effect ``name`` (a declaration's word)."""
    if name == "length":
        return _first_insn(effects, "length_changes", effects.length_changes[0].helper)
    if name.startswith("meta."):
        return _first_insn(effects, "metadata_writes", name)
    return _first_insn(effects, "writes", name)


def _at_insn(a: Analysis, insn: int | None) -> Location | None:
    if insn is None:
        return None
    line = a.program.source_line(insn)
    if line is None or not line.line:
        return None
    return Location(
        file=display_path(line.file), line=line.line, column=line.column, text=line.text
    )


def _short(loc: Location | None) -> str:
    return f" at {Path(loc.file).name}:{loc.line}" if loc is not None and loc.line else ""


def _declared_at(d: Declaration, action: Path) -> Location:
    if d.file is None:
        return Location(file=display_path(action))
    return Location(file=display_path(d.file), line=d.line, text=_text_of(d.file, d.line))


def _text_of(path: Path, line: int) -> str:
    if not line:
        return ""
    try:
        lines = read_input(path).decode("utf-8", errors="replace").splitlines()
    except ExtframeError:
        return ""
    return lines[line - 1] if line <= len(lines) else ""


# --- the findings ---------------------------------------------------------------------


def findings_of(
    checked: Checked,
    declaration: Declaration,
    locked: dict[str, Entry] | None,
    lock_name: str = "the lock",
) -> list[Finding]:
    """Every finding for one file: each program against the declaration and the lock.

    ``locked``: the file's programs in the lock (None: not compared; an
    empty dict: the file is not in the lock).
    """
    out: list[Finding] = []
    action = checked.path
    name = display_path(action)
    for a in checked.analyses:
        prog = a.program.name
        if checked.rejected is not None:
            if prog == checked.rejected.program:
                out.append(_rejected(checked, name, prog))
            continue  # nothing is proven of a program that did not load
        out += _against_declaration(a, declaration, action, name)
        if locked is not None:
            out += _against_lock(a, declaration, locked.get(prog), action, lock_name)
    if locked is not None and checked.rejected is None:
        present = {a.program.name for a in checked.analyses}
        for gone in sorted(set(locked) - present):
            out.append(
                Finding(
                    rule="differs-from-lock",
                    action=name,
                    program=gone,
                    message=f"{lock_name} records program {gone}, which {name} no longer has; "
                    "run `extframe lock` if that is intended",
                    location=Location(file=name),
                )
            )
    return out


def _rejected(checked: Checked, name: str, prog: str) -> Finding:
    assert checked.rejected is not None
    s = checked.rejected.summary
    loc = Location(file=name)
    if s.source_line:
        loc = Location(file=name, line=s.source_line, text=s.source_text or "")
    where = f" at {s.source_file}:{s.source_line}" if s.source_line else ""
    return Finding(
        rule="verifier-rejected",
        action=name,
        program=prog,
        message=f"the verifier rejected {prog}{where}: {s.reason}",
        location=loc,
    )


def _against_declaration(a: Analysis, d: Declaration, action: Path, name: str) -> list[Finding]:
    e = a.effects
    prog = e.program
    if d.effects is None:
        return [
            Finding(
                rule="undeclared",
                action=name,
                program=prog,
                message=f"{prog} declares no effects (EXTFRAME_EFFECTS or "
                f"{action.stem}.effects.toml): only the lock is compared",
                location=Location(file=name),
            )
        ]
    declared_at = _declared_at(d, action)
    if e.verdict == "unknown":
        why = e.reasons[0] if e.reasons else "no reason given"
        return [
            Finding(
                rule="unproven",
                action=name,
                program=prog,
                message=f"{prog}: the analyzer could not prove {d.effects.text}: {why}",
                location=declared_at,
            )
        ]
    declared = set(d.effects.writes)
    proven = e.effect_names()
    excess = proven - declared
    allowed = set(d.allowance.effects) if d.allowance is not None else set()
    out: list[Finding] = []
    for effect in sorted(excess - allowed):
        loc = _at_insn(a, _effect_insn(e, effect))
        out.append(
            Finding(
                rule="exceeds-declaration",
                action=name,
                program=prog,
                effect=effect,
                message=f"{prog} writes {effect}{_short(loc)}, which its declaration "
                f"{d.effects.text} does not name",
                location=loc or declared_at,
            )
        )
    if d.allowance is not None:
        accepted = sorted(excess & allowed)
        stale = sorted(allowed - excess)
        where = Location(
            file=display_path(d.allowance_file or action),
            line=d.allowance_line,
            text=_text_of(d.allowance_file, d.allowance_line) if d.allowance_file else "",
        )
        if accepted:
            out.append(
                Finding(
                    rule="accepted-analyzer-limit",
                    action=name,
                    program=prog,
                    message=f"{prog}: proven wider than {d.effects.text} by {len(accepted)} "
                    f"effects ({', '.join(accepted)}), accepted as an analyzer limit: "
                    f"{d.allowance.reason}",
                    location=where,
                )
            )
        if stale:
            out.append(
                Finding(
                    rule="stale-allowance",
                    action=name,
                    program=prog,
                    message=f"{prog}: wider_than_declared accepts {', '.join(stale)}, which "
                    "the proof no longer has: remove them from it",
                    location=where,
                )
            )
    missing = sorted(declared - proven)
    if missing:
        out.append(
            Finding(
                rule="declared-not-proven",
                action=name,
                program=prog,
                message=f"{prog} declares {', '.join(missing)}, which the analyzer did not find "
                "it writing",
                location=declared_at,
            )
        )
    return out


#: What an item of each list key of a lock entry means, as a verb phrase.
_PHRASES: dict[str, str] = {
    "writes": "writes {}",
    "metadata_writes": "writes metadata {}",
    "length_changes": "changes the packet length with {}",
    "helpers": "calls {}",
    "maps": "uses map {}",
}


def json_word(value: Any) -> str:
    """A lock value as JSON spells it: null, true, false, or the text."""
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _lock_message(prog: str, diff: Difference, loc: Location | None, lock_name: str) -> str:
    if diff.kind == "changed":
        now, was = json_word(diff.now), json_word(diff.locked)
        said = f"{prog}: {diff.key} is {now}, {lock_name} says {was}"
    elif diff.kind == "added":
        what = _PHRASES[diff.key].format(diff.item)
        said = f"{prog} now {what}{_short(loc)}, which {lock_name} does not record"
    else:
        what = _PHRASES[diff.key].format(diff.item)
        said = f"{prog} no longer {what}, which {lock_name} records"
    return said + "; if intended, run `extframe lock` and commit the lock file"


def _against_lock(
    a: Analysis, d: Declaration, entry: Entry | None, action: Path, lock_name: str
) -> list[Finding]:
    e = a.effects
    prog = e.program
    name = display_path(action)
    if entry is None:
        return [
            Finding(
                rule="not-locked",
                action=name,
                program=prog,
                message=f"{prog} ({name}) is not in {lock_name}: run `extframe lock` and "
                "commit the lock file",
                location=Location(file=name),
            )
        ]
    out = []
    for diff in compare(program_entry(e, d.effects), entry):
        # Something new points at its first instruction; what went away, at the declaration.
        loc = _at_insn(a, _first_insn(e, diff.key, diff.item)) if diff.kind == "added" else None
        out.append(
            Finding(
                rule="differs-from-lock",
                action=name,
                program=prog,
                effect=diff.item or None,
                message=_lock_message(prog, diff, loc, lock_name),
                location=loc or _declared_at(d, action),
            )
        )
    return out


# --- text -------------------------------------------------------------------------------


def caret_lines(loc: Location) -> list[str]:
    """The source line and a caret under ``loc.column``, tabs kept so the caret lines up."""
    if not loc.text:
        return []
    out = [f" {loc.line:>5} | {loc.text}"]
    if loc.column:
        pad = "".join(c if c == "\t" else " " for c in loc.text[: loc.column - 1])
        out.append(f" {'':>5} | {pad}^")
    return out


def text_findings(findings: list[Finding]) -> str:
    """Compiler-style lines: ``file:line:col: level: message [rule]``, the line and a caret."""
    lines: list[str] = []
    for f in findings:
        loc = f.location
        where = loc.file if loc is not None else f.action
        if loc is not None and loc.line:
            where += f":{loc.line}" + (f":{loc.column}" if loc.column else "")
        lines.append(f"{where}: {f.level}: {f.message} [{f.rule}]")
        if loc is not None:
            lines += caret_lines(loc)
    counts = {lv: sum(f.level == lv for f in findings) for lv in ("error", "warning")}
    if counts["error"] or counts["warning"]:
        lines.append(
            f"check: {counts['error']} error(s), {counts['warning']} warning(s)"
            + (": the check fails" if counts["error"] else "")
        )
    return "\n".join(lines)
