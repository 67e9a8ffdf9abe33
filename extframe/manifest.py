"""What an action declares about itself: its intended effects.

An action states them in its source with ``EXTFRAME_EFFECTS(...)`` (see
actions/include/extframe.h), which leaves the text in the ELF section
``.extframe.effects``. Grammar::

    read_only
    writes("ip.ttl", "ip.csum", "meta.mark", "length", ...)

Or, for an action whose source cannot carry the macro (an object built
elsewhere), in a manifest beside it, ``ACTION.effects.toml``::

    read_only = true                 # or
    writes = ["ip.ttl", "ip.csum"]

Declaring in both places is an error: one action, one declaration. The
manifest may also hold an accepted analyzer limit, next to a declaration in
either place (docs/decisions/0005-check-gate.md)::

    [wider_than_declared]
    reason = "why the proof is wider than the action, and the issue tracking it"
    effects = ["eth.dst", ...]       # exactly the proven effects beyond the declaration
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analyzer.elf import ObjectSpec
from analyzer.errors import AnalyzerError
from analyzer.fields import ALL_NAMES
from analyzer.symbolic import IPV6_EXT
from extframe.errors import ExtframeError, ManifestError, ObjectError
from extframe.inputs import read_input

#: The names an action may declare: analyzer/fields.py is the one table.
DECLARABLE: frozenset[str] = ALL_NAMES
#: The names a proof may use: the declarable ones, and the IPv6 extension
#: headers, which the analyzer names but no action may declare writing.
PROVABLE: frozenset[str] = ALL_NAMES | {IPV6_EXT}

MANIFEST_SUFFIX = ".effects.toml"

_WRITES = re.compile(r"^writes\s*\((?P<items>.*)\)$", re.S)


class DeclaredEffects(BaseModel):
    """The effects an action says it has."""

    model_config = ConfigDict(frozen=True)

    read_only: bool
    writes: tuple[str, ...] = ()
    text: str

    @property
    def canonical(self) -> str:
        """The declaration in one spelling, names sorted: equal declarations read the same."""
        if self.read_only:
            return "read_only"
        return "writes(" + ", ".join(f'"{w}"' for w in self.writes) + ")"

    @classmethod
    def parse(cls, text: str, where: str = "EXTFRAME_EFFECTS") -> DeclaredEffects:
        """Parse the text of an ``EXTFRAME_EFFECTS(...)`` declaration."""
        body = " ".join(text.split())
        if body == "read_only":
            return cls(read_only=True, text=body)
        m = _WRITES.match(body)
        if not m:
            raise ObjectError(
                f'{where}: cannot read {body!r}; write read_only or writes("ip.ttl", ...)'
            )
        items = tuple(i.strip().strip('"') for i in m.group("items").split(",") if i.strip())
        unknown = [i for i in items if i not in DECLARABLE]
        if unknown or not items:
            raise ObjectError(
                f"{where}: unknown effect {', '.join(unknown) or '(none)'}; "
                f"known: {', '.join(sorted(DECLARABLE))}"
            )
        return cls(read_only=False, writes=tuple(sorted(set(items))), text=body)


def read_declared(obj: Path) -> DeclaredEffects | None:
    """The effects declared in a BPF object, or None when it declares none."""
    try:
        text = ObjectSpec.from_bytes(read_input(obj, ObjectError), str(obj)).declared_effects_text
    except AnalyzerError as e:
        raise ObjectError(f"{obj}: {e}") from e
    return None if text is None else DeclaredEffects.parse(text, where=str(obj))


# --- the manifest beside an action -------------------------------------------------------


class Allowance(BaseModel):
    """Proven effects beyond the declaration that a reviewer accepted, and why.

    Only for an analyzer precision limit: the action does not do these, the
    proof cannot yet show it. ``effects`` must be exactly the excess, so a
    new one fails and a fixed one asks to be removed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1)
    effects: tuple[str, ...] = Field(min_length=1)


class EffectsManifest(BaseModel):
    """``ACTION.effects.toml``: a declaration (when the source has none) and an allowance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    read_only: bool | None = None
    writes: tuple[str, ...] | None = None
    wider_than_declared: Allowance | None = None

    def declared(self, where: str) -> DeclaredEffects | None:
        """The declaration this manifest makes, or None when it makes none."""
        if self.read_only is not None and self.writes is not None:
            raise ManifestError(f"{where}: say read_only = true or writes = [...], not both")
        if self.read_only is False:
            raise ManifestError(f'{where}: read_only = false says nothing; write writes = ["..."]')
        if self.read_only:
            return DeclaredEffects.parse("read_only", where)
        if self.writes is not None:
            items = ", ".join(f'"{w}"' for w in self.writes)
            try:
                return DeclaredEffects.parse(f"writes({items})", where)
            except ObjectError as e:
                raise ManifestError(e.message) from None
        return None


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """What an action declares and where, with the allowance its manifest holds.

    ``line`` is the line of ``EXTFRAME_EFFECTS`` in a C source, or of the
    declaring key in the manifest; 0 when unknown (an object, no source).
    """

    effects: DeclaredEffects | None
    file: Path | None
    line: int
    allowance: Allowance | None = None
    allowance_file: Path | None = None
    allowance_line: int = 0


def manifest_path(action: Path) -> Path:
    """Where the manifest of ``action`` lives: ``NAME.effects.toml`` beside ``NAME.c``/``.o``."""
    return action.with_name(action.stem + MANIFEST_SUFFIX)


def read_manifest(action: Path) -> EffectsManifest | None:
    """The manifest beside ``action``, or None when there is none."""
    path = manifest_path(action)
    if not os.path.lexists(path):
        return None
    try:
        text = read_input(path, ManifestError).decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    try:
        return EffectsManifest.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{path}: not TOML: {e}") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top)"
        raise ManifestError(f"{path}: {where}: {first['msg']}") from None


_MACRO_LINE = re.compile(r"^\s*EXTFRAME_EFFECTS\s*\(")


def _line_of(path: Path, pattern: re.Pattern[str]) -> int:
    """The first line of ``path`` that ``pattern`` matches, 1-based; 0 when none or unreadable."""
    try:
        lines = read_input(path).decode("utf-8", errors="replace").splitlines()
    except ExtframeError:
        return 0
    return next((n for n, text in enumerate(lines, 1) if pattern.match(text)), 0)


def declaration_of(action: Path, source_text: str | None) -> Declaration:
    """Resolve what ``action`` declares: its ``EXTFRAME_EFFECTS`` text or its manifest.

    ``source_text``: the declaration found in the object (None: none). Both
    declaring is a ``ManifestError``, as is an allowance with nothing to be
    wider than, or naming effects no proof can have.
    """
    manifest = read_manifest(action)
    mpath = manifest_path(action)
    from_manifest = manifest.declared(str(mpath)) if manifest is not None else None
    if source_text is not None and from_manifest is not None:
        raise ManifestError(
            f"{action} declares its effects twice, with EXTFRAME_EFFECTS and in {mpath}: "
            "keep one (the source is the usual place)"
        )
    if source_text is not None:
        declared: DeclaredEffects | None = DeclaredEffects.parse(source_text, where=str(action))
        file: Path | None = action
        line = _line_of(action, _MACRO_LINE) if action.suffix == ".c" else 0
    elif from_manifest is not None:
        declared, file = from_manifest, mpath
        line = _line_of(mpath, re.compile(r"^\s*(read_only|writes)\s*="))
    else:
        declared, file, line = None, None, 0
    allowance = manifest.wider_than_declared if manifest is not None else None
    if allowance is None:
        return Declaration(effects=declared, file=file, line=line)
    if declared is None:
        raise ManifestError(
            f"{mpath}: [wider_than_declared] needs a declaration to be wider than; "
            "declare the effects first"
        )
    unknown = sorted(set(allowance.effects) - PROVABLE)
    if unknown:
        raise ManifestError(
            f"{mpath}: wider_than_declared.effects: unknown effect {', '.join(unknown)}; "
            f"known: {', '.join(sorted(PROVABLE))}"
        )
    return Declaration(
        effects=declared,
        file=file,
        line=line,
        allowance=allowance,
        allowance_file=mpath,
        allowance_line=_line_of(mpath, re.compile(r"^\s*\[wider_than_declared\]")),
    )
