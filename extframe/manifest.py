"""What an action declares about itself: its intended effects.

An action states them in its source with ``EXTFRAME_EFFECTS(...)`` (see
actions/include/extframe.h), which leaves the text in the ELF section
``.extframe.effects``. Grammar::

    read_only
    writes("ip.ttl", "ip.csum", "meta.mark", "length", ...)
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from analyzer.elf import ObjectSpec
from analyzer.errors import AnalyzerError
from analyzer.fields import ALL_NAMES
from extframe.errors import ObjectError

#: The names an action may declare: analyzer/fields.py is the one table.
DECLARABLE: frozenset[str] = ALL_NAMES

_WRITES = re.compile(r"^writes\s*\((?P<items>.*)\)$", re.S)


class DeclaredEffects(BaseModel):
    """The effects an action says it has."""

    model_config = ConfigDict(frozen=True)

    read_only: bool
    writes: tuple[str, ...] = ()
    text: str

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
        text = ObjectSpec.from_path(obj).declared_effects_text
    except AnalyzerError as e:
        raise ObjectError(f"{obj}: {e}") from e
    return None if text is None else DeclaredEffects.parse(text, where=str(obj))
