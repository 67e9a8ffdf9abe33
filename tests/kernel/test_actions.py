"""Every bundled action: compiles without warnings, passes the verifier, and
does exactly what its packet vectors say on the real kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from extframe.build import BuildOptions, build
from extframe.loader import load_object
from extframe.manifest import read_declared
from extframe.packet import diff
from extframe.vectors import VectorFile, run_vectors, vectors_path
from tests.conftest import ACTIONS

pytestmark = pytest.mark.kernel
SOURCES = sorted(ACTIONS.glob("*.c"))


def test_the_three_first_actions_exist() -> None:
    assert {"port_counter", "dec_ttl", "port_filter"} <= {s.stem for s in SOURCES}


@pytest.fixture(params=SOURCES, ids=[s.stem for s in SOURCES])
def action(request: pytest.FixtureRequest, build_dir: Path) -> tuple[Path, Path]:
    src: Path = request.param
    return src, build(src, build_dir / f"{src.stem}.o", BuildOptions(werror=True))


def test_vectors_pass(action: tuple[Path, Path]) -> None:
    src, obj_path = action
    vectors = VectorFile.load(vectors_path(src))
    assert len(vectors.vector) >= 5, "each action covers its edge cases"
    with load_object(obj_path) as obj:
        assert len(obj.programs) == 1 and obj.program().log_complete
        failures = [(o.name, o.problems) for o in run_vectors(obj, vectors) if not o.passed]
    assert failures == []


def test_declared_effects_match_what_the_vectors_change(action: tuple[Path, Path]) -> None:
    """Until the analyzer lands, the declaration is checked against the packets.

    A read_only action must leave every vector's packet and metadata as they
    were; a writing action must change only fields it declares.
    """
    src, obj_path = action
    declared = read_declared(obj_path)
    assert declared is not None, f"{src.name} has no EXTFRAME_EFFECTS"
    vectors = VectorFile.load(vectors_path(src))
    changed: set[str] = set()
    for v in vectors.vector:
        d = diff(v.input_bytes(), v.expected_bytes())
        if d.length_before != d.length_after:
            changed.add("length")
        # Field names from the diff are the declaration's names, except the
        # IPv6 spelling scapy uses for the hop limit is mapped already.
        changed |= {c.field for c in d.fields}
        if v.out_mark is not None and v.out_mark != v.mark:
            changed.add("meta.mark")
        if v.out_priority is not None and v.out_priority != v.priority:
            changed.add("meta.priority")
    if declared.read_only:
        assert changed == set()
    else:
        assert changed, "a writing action needs a vector that shows a write"
        assert changed <= set(declared.writes), changed - set(declared.writes)
