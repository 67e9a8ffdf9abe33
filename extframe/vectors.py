"""Packet test vectors: what an action must do to given packets.

Each action ``actions/NAME.c`` has ``actions/NAME.vectors.toml``: optional
map set-up, then vectors run in file order on one loaded object, so map state
carries from one vector to the next. Keys and values are written as
extframe/kernel/mapview.py reads them through the map's BTF: numbers, addresses,
tables of struct members (``{packets = 1, bytes = 54}``), lists, or
``"0x…"`` for the exact bytes. An expected value names only what it checks.
Schema: ``VectorFile`` below; unknown keys are errors.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from extframe import packet as packets
from extframe.errors import ExtframeError, VectorError
from extframe.inputs import read_input
from extframe.kernel import LoadedMap, LoadedObject, RunInput, run
from extframe.kernel.mapview import MapTypes, map_types, show

MapScalar = int | str | dict[str, Any] | list[Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MapEntry(_Strict):
    """A map key and value; in ``expect_map``, ``value = "absent"`` means no such key."""

    map: str
    key: MapScalar
    value: MapScalar


class Vector(_Strict):
    """One packet, its metadata, and what must come out."""

    name: str
    packet: str | None = None
    packet_hex: str | None = None
    in_port: int = 0
    arg: int = 0
    mark: int = 0
    priority: int = 0
    verdict: Literal["continue", "drop"]
    output: str | None = None
    output_hex: str | None = None
    out_mark: int | None = None
    out_priority: int | None = None
    expect_map: list[MapEntry] = []

    @model_validator(mode="after")
    def _one_packet(self) -> Vector:
        if (self.packet is None) == (self.packet_hex is None):
            raise ValueError("give exactly one of packet or packet_hex")
        if self.output is not None and self.output_hex is not None:
            raise ValueError("give at most one of output or output_hex")
        return self

    def input_bytes(self) -> bytes:
        """The input packet."""
        if self.packet is not None:
            return packets.from_expression(self.packet)
        assert self.packet_hex is not None
        return packets.from_hex(self.packet_hex)

    def expected_bytes(self) -> bytes:
        """The packet that must come out (the input, unless output is given)."""
        if self.output is not None:
            return packets.from_expression(self.output)
        if self.output_hex is not None:
            return packets.from_hex(self.output_hex)
        return self.input_bytes()


class VectorFile(_Strict):
    """The whole file."""

    setup: list[MapEntry] = []
    vector: list[Vector] = Field(min_length=1)

    @classmethod
    def load(cls, path: Path) -> VectorFile:
        """Read and validate ``path``."""
        try:
            data = tomllib.loads(read_input(path, VectorError).decode())
            return cls.model_validate(data)
        except UnicodeDecodeError as e:
            raise VectorError(f"{path}: cannot read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise VectorError(f"{path}: not valid TOML: {e}") from e
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise VectorError(f"{path}: {loc}: {first['msg']}") from e


def vectors_path(source: Path) -> Path:
    """Where the vectors of an action live: beside its source."""
    return source.with_name(source.stem.removesuffix(".o") + ".vectors.toml")


@dataclass
class Outcome:
    """The result of one vector: passed when ``problems`` is empty."""

    name: str
    verdict: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the action did what the vector says."""
        return not self.problems


def _map(obj: LoadedObject, name: str, types: dict[str, MapTypes]) -> tuple[LoadedMap, MapTypes]:
    try:
        m = obj.map(name)
    except ExtframeError as e:
        raise VectorError(e.message) from e
    if name not in types:
        types[name] = map_types(m.fd)
    return m, types[name]


def _encode(codec_of: MapTypes, entry: MapEntry, part: str) -> bytes:
    codec = codec_of.key if part == "key" else codec_of.value
    value = entry.key if part == "key" else entry.value
    try:
        return codec.encode(value, f"map {entry.map} {part}")
    except ExtframeError as e:
        raise VectorError(e.message) from e


def apply_setup(obj: LoadedObject, vectors: VectorFile) -> dict[str, MapTypes]:
    """Fill the maps as the vectors' ``setup`` says; return the maps' types by name."""
    types: dict[str, MapTypes] = {}
    for entry in vectors.setup:
        m, t = _map(obj, entry.map, types)
        m.update(_encode(t, entry, "key"), _encode(t, entry, "value"))
    return types


def run_vectors(
    obj: LoadedObject, vectors: VectorFile, program: str | None = None
) -> list[Outcome]:
    """Apply the set-up, run every vector in order, and check what came out."""
    types = apply_setup(obj, vectors)
    prog = obj.program(program)
    outcomes = []
    for v in vectors.vector:
        result = run(
            prog,
            RunInput(
                packet=v.input_bytes(),
                in_port=v.in_port,
                arg=v.arg,
                mark=v.mark,
                priority=v.priority,
            ),
        )
        out = Outcome(name=v.name, verdict=result.verdict)
        if result.verdict != v.verdict:
            out.problems.append(
                f"verdict {result.verdict} (retval {result.retval}), want {v.verdict}"
            )
        want = v.expected_bytes()
        if result.packet != want:
            d = packets.diff(want, result.packet)
            detail = ", ".join(f"{c.field} {c.before} → {c.after}" for c in d.fields[:4])
            out.problems.append(
                "output packet differs from the expected one"
                + (f" ({detail})" if detail else f" (length {len(want)} → {len(result.packet)})")
            )
        if v.out_mark is not None and result.mark != v.out_mark:
            out.problems.append(f"mark {result.mark}, want {v.out_mark}")
        if v.out_priority is not None and result.priority != v.out_priority:
            out.problems.append(f"priority {result.priority}, want {v.out_priority}")
        for entry in v.expect_map:
            m, t = _map(obj, entry.map, types)
            key = _encode(t, entry, "key")
            got = m.lookup(key)
            where = f"map {entry.map} key {show(t.key.decode(key))}"
            if entry.value == "absent":
                if got is not None:
                    out.problems.append(f"{where}: present, want absent")
            elif got is None:
                out.problems.append(f"{where}: absent")
            else:
                out.problems += t.value.compare(got, entry.value, where)
        outcomes.append(out)
    return outcomes
