"""The lock file: what each action was proven to do, as reviewed in version control.

``extframe lock ACTION...`` writes it; ``extframe check --locked`` compares
every action with it and fails on any difference, so a change in what an
action may do shows up in the pull request as a diff of this file.

It is JSON (the standard library writes it the same way every time, and
one value per line diffs well), with sorted keys and sorted lists. It holds
no time, no absolute path, no instruction index and no C line: moving code
around without changing what it does leaves the file byte-identical. Paths
are relative to the lock file's folder. Layout::

    {"about": "...", "lock_version": 1,
     "actions": {"actions/dec_ttl.c": {"dec_ttl": {ENTRY}}}}

ENTRY (one per program): ``declared`` (the declaration, names sorted, or null),
``verdict``, ``reclassify`` (OVS re-classifies after it: the flow key may
change), ``writes`` (header fields of packet writes), ``metadata_writes``,
``length_changes`` (the helpers), ``helpers`` (every helper or kfunc
called), ``maps`` (``NAME (TYPE): read, written``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.effects import ProgramEffects
from extframe.errors import LockError
from extframe.inputs import read_input
from extframe.manifest import DeclaredEffects
from extframe.owned import replace_file

LOCK_NAME = "extframe.lock"
LOCK_VERSION = 1
ABOUT = (
    "extframe lock file: what each action was proven to do. Written by `extframe lock`, "
    "compared by `extframe check --locked`; review its diff, do not edit it by hand."
)

#: The list-valued keys of an entry, compared item by item.
LIST_KEYS = ("writes", "metadata_writes", "length_changes", "helpers", "maps")
#: The single-valued keys of an entry.
VALUE_KEYS = ("declared", "verdict", "reclassify")

Entry = dict[str, Any]


def map_item(name: str, kind: str | None, read: bool, written: bool) -> str:
    """How a map use reads in the lock: ``NAME (TYPE): read, written``."""
    how = ", ".join(w for w, on in (("read", read), ("written", written)) if on) or "referenced"
    return f"{name} ({kind or 'map'}): {how}"


def program_entry(effects: ProgramEffects, declared: DeclaredEffects | None) -> Entry:
    """The lock entry of one program: its proven effects, none of them positional."""
    return {
        "declared": declared.canonical if declared is not None else None,
        "verdict": effects.verdict,
        "reclassify": effects.flow_key_affected,
        "writes": sorted({f for w in effects.packet_writes for f in w.fields}),
        "metadata_writes": sorted({m.field for m in effects.metadata_writes}),
        "length_changes": sorted({c.helper for c in effects.length_changes}),
        "helpers": sorted({h.name for h in effects.helpers}),
        "maps": sorted({map_item(m.name, m.type, m.read, m.written) for m in effects.maps}),
    }


@dataclass(frozen=True)
class Difference:
    """One way a program differs from its lock entry.

    ``added``/``removed``: an item of a list key now there / no longer
    there; ``changed``: a single value, ``locked`` then and ``now``.
    """

    key: str
    kind: str  # "added", "removed", "changed"
    item: str = ""
    locked: Any = None
    now: Any = None


def compare(now: Entry, locked: Entry) -> list[Difference]:
    """Every difference between a program's entry now and the one in the lock."""
    out: list[Difference] = []
    for key in VALUE_KEYS:
        if now.get(key) != locked.get(key):
            out.append(Difference(key, "changed", locked=locked.get(key), now=now.get(key)))
    for key in LIST_KEYS:
        before, after = set(locked.get(key) or ()), set(now.get(key) or ())
        out += [Difference(key, "added", item) for item in sorted(after - before)]
        out += [Difference(key, "removed", item) for item in sorted(before - after)]
    return out


def action_key(action: Path, lock_path: Path) -> str:
    """``action`` as the lock names it: relative to the lock's folder, with '/'."""
    rel = os.path.relpath(action.resolve(), lock_path.resolve().parent)
    return Path(rel).as_posix()


@dataclass
class Lock:
    """A lock file in memory: action key → program name → entry."""

    path: Path
    actions: dict[str, dict[str, Entry]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Lock:
        """Read ``path``; a missing or malformed file is a ``LockError``."""
        if not os.path.lexists(path):
            raise LockError(
                f"{path}: no lock file; write it with `extframe lock ACTION...` and commit it"
            )
        try:
            text = read_input(path, LockError).decode("utf-8")
        except UnicodeDecodeError:
            raise LockError(f"{path}: not UTF-8 text; rewrite it with `extframe lock`") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LockError(f"{path}: not JSON ({e}); rewrite it with `extframe lock`") from None
        if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION:
            raise LockError(
                f"{path}: not an extframe lock of version {LOCK_VERSION}; "
                "rewrite it with `extframe lock`"
            )
        actions = data.get("actions")
        if not isinstance(actions, dict) or not all(
            isinstance(progs, dict) and all(isinstance(e, dict) for e in progs.values())
            for progs in actions.values()
        ):
            raise LockError(f"{path}: 'actions' is malformed; rewrite it with `extframe lock`")
        return cls(path, actions)

    def text(self) -> str:
        """The file's exact bytes: sorted keys, two-space indent, a final newline."""
        data = {"about": ABOUT, "lock_version": LOCK_VERSION, "actions": self.actions}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(self) -> bool:
        """Write the file if its content changed (atomically); True when it did."""
        text = self.text()
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        replace_file(self.path, text.encode("utf-8"))
        return True

    def prune(self) -> list[str]:
        """Drop the entries of actions whose files are gone; their keys."""
        base = self.path.resolve().parent
        gone = sorted(k for k in self.actions if not (base / k).exists())
        for k in gone:
            del self.actions[k]
        return gone
