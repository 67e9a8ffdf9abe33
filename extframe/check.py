"""``extframe check`` and ``extframe explain``: the analyzer's answer for actions on disk.

This module gathers the evidence (the object's spec, the kernel's verdict,
its whole level-2 log and the instructions it verified) and hands it to
``analyzer.effects.analyze_program``; it analyses nothing itself. It also
renders the answers as text and builds the annotated listing of ``explain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analyzer.effects import Analysis, KernelEvidence, analyze_program
from analyzer.elf import ObjectSpec, ProgramSpec
from analyzer.errors import AnalyzerError, ElfError
from analyzer.verifier_log import summarize
from extframe.build import object_for
from extframe.errors import ExtframeError, ObjectError, VerifierError
from extframe.inputs import read_input
from extframe.kernel import (
    PROG_TYPES,
    LoadedObject,
    LoadedProgram,
    LoadOptions,
    RawLoadOptions,
    load_object,
    prog_load_whole_log,
    read_object,
)

# Section names libbpf maps to the two program types extframe runs
# (libbpf.c: section_defs).
_SECTION_TYPES = {"tc": "tc", "classifier": "tc", "xdp": "xdp"}


@dataclass(frozen=True)
class Checked:
    """The analyses of one file; ``rejected`` names the program the verifier refused.

    ``declared_text``: the object's ``EXTFRAME_EFFECTS`` text (None: none, or raw bytecode).
    """

    path: Path
    analyses: list[Analysis]
    rejected: VerifierError | None = None
    declared_text: str | None = None

    @property
    def rejected_text(self) -> str:
        """``FILE: PROGRAM: reason (file.c:line)`` for the rejected program."""
        assert self.rejected is not None
        return f"{self.path}: {self.rejected.program}: {_rejection(self.rejected)}"


def evidence_of(program: LoadedProgram) -> KernelEvidence:
    """What a load the verifier accepted tells the analyzer about ``program``."""
    return KernelEvidence(
        accepted=True, log=program.log, log_complete=program.log_complete, insns=program.insns
    )


def _static_type(section: str, forced: str | None, path: Path) -> str:
    if forced is not None:
        return forced
    kind = _SECTION_TYPES.get(section.split("/")[0])
    if kind is None:
        raise ObjectError(
            f"{path}: section {section!r} does not name a tc or xdp program; pass --type tc"
        )
    return kind


def _spec(obj: Path, path: Path) -> ObjectSpec:
    """The object file ``obj`` (built from ``path``) read by the analyzer; one program at least."""
    data = read_object(obj, path)
    try:
        spec = ObjectSpec.from_bytes(data, name=str(path))
    except ElfError as exc:
        raise ObjectError(f"{exc}; rebuild it with `extframe build`") from None
    if not spec.programs:
        raise ObjectError(f"{path}: the object holds no program")
    return spec


def check_file(
    path: Path, *, prog_type: str | None = None, kernel: bool = True, raw: bool = False
) -> Checked:
    """Analyse every program of ``path`` (a ``.c`` is built first).

    With ``kernel`` the object is loaded (and released again) so that the
    verifier's verdict and log are part of the evidence; without, the
    answer is the static analysis alone. ``raw``: the file is bare
    bytecode (8-byte instructions, no ELF), one program of ``prog_type``.
    """
    if prog_type is not None and prog_type not in PROG_TYPES:
        raise ExtframeError(f"unknown program type {prog_type!r}: use tc or xdp")
    if raw:
        return _check_raw(path, prog_type, kernel)
    with object_for(path) as obj:
        spec = _spec(obj, path)
        if not kernel:
            return Checked(
                path,
                [
                    _analyse(spec, p.name, _static_type(p.section, prog_type, path))
                    for p in spec.programs
                ],
                declared_text=spec.declared_effects_text,
            )
        try:
            loaded = load_object(obj, LoadOptions(prog_type=prog_type), shown_as=path)
        except VerifierError as rejection:
            analyses = []
            for p in spec.programs:
                evidence = KernelEvidence(
                    accepted=False,
                    log=rejection.log if p.name == rejection.program else "",
                    log_complete=rejection.log_complete,
                    error=(
                        _rejection(rejection)
                        if p.name == rejection.program
                        else f"not loaded: program {rejection.program} of the object was rejected"
                    ),
                )
                kind = _static_type(p.section, prog_type, path)
                analyses.append(_analyse(spec, p.name, kind, evidence))
            return Checked(path, analyses, rejection, spec.declared_effects_text)
        with loaded:
            analyses = []
            for p in spec.programs:
                lp = loaded.program(p.name)
                analyses.append(_analyse(spec, p.name, lp.type_name, evidence_of(lp)))
            return Checked(path, analyses, declared_text=spec.declared_effects_text)


def load_checked(path: Path, *, prog_type: str | None = None) -> tuple[LoadedObject, Checked]:
    """Load ``path`` (a ``.c`` is built first) and analyse it from that very load.

    For registration: the programs that were proven are the ones that stay
    loaded, to be pinned. The caller closes the object. A verifier rejection
    raises ``VerifierError`` (nothing stays loaded).
    """
    with object_for(path) as obj:
        spec = _spec(obj, path)
        loaded = load_object(obj, LoadOptions(prog_type=prog_type), shown_as=path)
    try:
        analyses = [
            _analyse(
                spec, p.name, loaded.program(p.name).type_name, evidence_of(loaded.program(p.name))
            )
            for p in spec.programs
        ]
    except BaseException:
        loaded.close()
        raise
    return loaded, Checked(path, analyses, declared_text=spec.declared_effects_text)


def _check_raw(path: Path, prog_type: str | None, kernel: bool) -> Checked:
    """Bare bytecode: less evidence (no names, no lines), loaded with the raw syscall."""
    if prog_type is None:
        raise ExtframeError(f"{path}: raw bytecode has no section name: pass --type tc or xdp")
    code = read_input(path, ObjectError)
    try:
        program = ProgramSpec.from_bytecode(code, name=path.stem)
    except AnalyzerError as exc:
        raise ObjectError(f"{path}: not eBPF bytecode: {exc}") from None
    if not program.insns:
        raise ObjectError(f"{path}: empty: no instructions")
    kind: Literal["tc", "xdp"] = "tc" if prog_type == "tc" else "xdp"
    evidence: KernelEvidence | None = None
    rejection: VerifierError | None = None
    if kernel:
        options = RawLoadOptions(prog_type=PROG_TYPES[prog_type], name=path.stem[:15] or "raw")
        loaded = prog_load_whole_log(code, options)
        try:
            evidence = KernelEvidence(
                accepted=loaded.fd is not None,
                log=loaded.log,
                log_complete=loaded.log_complete,
                insns=code,
                error=None if loaded.fd is not None else summarize(loaded.log).reason,
            )
        finally:
            loaded.close()
        if loaded.fd is None:
            rejection = VerifierError(program.name, loaded.log, summarize(loaded.log))
    a = analyze_program(program, kind, object_name=str(path), kernel=evidence)
    return Checked(path, [a], rejection)


def _analyse(
    spec: ObjectSpec, name: str, prog_type: str, evidence: KernelEvidence | None = None
) -> Analysis:
    assert prog_type in ("tc", "xdp")
    return analyze_program(
        spec.program(name),
        "tc" if prog_type == "tc" else "xdp",
        object_name=spec.name,
        maps=spec.maps,
        kernel=evidence,
    )


# --- text -----------------------------------------------------------------------------

_VERDICT_WORDS = {
    "read_only": "read-only",
    "writes": "writes",
    "unknown": "unknown",
}


def text_effects(e: dict[str, Any]) -> str:
    """One program's answer as a few lines of text."""
    key = "flow key affected: re-classify" if e["flow_key_affected"] else "flow key untouched"
    head = f"{e['object']}: {e['program']} ({e['type']}): {_VERDICT_WORDS[e['verdict']]}; {key}"
    lines = [head]
    for r in e["reasons"]:
        lines.append(f"  {r}")
    calls = [f"{h['name']}@{h['insn']}" for h in e["helpers"]]
    if calls:
        lines.append("  calls: " + ", ".join(calls))
    for m in e["maps"]:
        how = "/".join(x for x, on in (("read", m["read"]), ("written", m["written"])) if on)
        lines.append(f"  map {m['name']} ({m['type'] or 'map'}): {how}")
    for r in e["refused"]:
        lines.append(f"  refused inside OVS: {r}")
    return "\n".join(lines)


# --- explain ------------------------------------------------------------------------------


def listing(a: Analysis) -> list[dict[str, Any]]:
    """One row per instruction: source line, text, the verifier's types, the effect."""
    effects = a.effects
    marks: dict[int, list[str]] = {}
    for w in effects.packet_writes:
        span = (
            f"{w.offset_min}"
            if w.offset_min == w.offset_max
            else (f"{w.offset_min}..{'end' if w.offset_max is None else w.offset_max}")
        )
        marks.setdefault(w.insn, []).append(f"writes packet bytes {span} ({', '.join(w.fields)})")
    for m in effects.metadata_writes:
        marks.setdefault(m.insn, []).append(f"writes {m.field}")
    for c in effects.length_changes:
        marks.setdefault(c.insn, []).append("changes length/layout")
    for h in effects.helpers:
        if h.effects != ["reads only"]:
            marks.setdefault(h.insn, []).append(f"{h.name}: {'; '.join(h.effects)}")
    for d in effects.disagreements:
        marks.setdefault(d.insn, []).append(f"disagreement: {d.resolution}")
    types: dict[int, dict[int, list[str]]] = {}
    if a.log is not None:
        by_index = {i.index: i for i in a.program.insns}
        for state in a.log.insns:
            insn = by_index.get(state.insn)
            if insn is None:
                continue
            regs = types.setdefault(state.insn, {})
            for r in sorted({insn.dst, insn.src}):
                reg = state.regs.get(r)
                if reg is None or (r == 10 and reg.raw == "fp0"):
                    continue
                seen = regs.setdefault(r, [])
                if reg.raw not in seen:
                    seen.append(reg.raw)
    rows: list[dict[str, Any]] = []
    last_source: str | None = None
    reached = a.provenance.reached if a.provenance is not None else frozenset()
    for insn in a.program.insns:
        line = a.program.source_line(insn.index)
        source = f"{Path(line.file).name}:{line.line}" if line and line.line else None
        rows.append(
            {
                "insn": insn.index,
                "source": source,
                "source_text": line.text.strip() if line and source != last_source else None,
                "text": insn.text() + _relocation_note(a, insn.index),
                "verifier_types": [
                    f"R{r}=" + "|".join(raws)
                    for r, raws in sorted(types.get(insn.index, {}).items())
                ],
                "effects": marks.get(insn.index, []),
                "reached": insn.index in reached,
            }
        )
        last_source = source or last_source
    return rows


def text_listing(program: str, rows: list[dict[str, Any]], head: str) -> str:
    lines = [head]
    for row in rows:
        if row["source_text"]:
            lines.append(f"; {row['source_text']}  @ {row['source']}")
        kinds = "  ".join(row["verifier_types"])
        text = f"{row['insn']:5}: {row['text']}"
        out = f"{text:<44} {kinds}".rstrip()
        for mark in row["effects"]:
            out += f"\n{'':7}^ {mark}"
        lines.append(out)
    return "\n".join(lines)


def _relocation_note(a: Analysis, index: int) -> str:
    r = a.program.relocation_at(index)
    return f"  ; {r.kind.value} {r.target}" if r is not None else ""


def _rejection(e: VerifierError) -> str:
    s = e.summary
    return f"{s.reason} ({s.source_file}:{s.source_line})" if s.source_line else s.reason
