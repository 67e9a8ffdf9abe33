"""Effects and verdict of one program: the static analysis and the verifier log, combined.

``analyze_program()`` is the analyzer's answer to "may this program change
anything the OVS classifier reads?". It runs the decoder, the CFG and the
provenance analysis over the object's linked program, reads the kernel's
verdict and level-2 log when given (``KernelEvidence``), and returns an
``Analysis`` whose ``effects`` (a pydantic model, stable JSON names) carry
the verdict:

``read_only``
    Every condition of the soundness contract (shared/DESIGN.md) holds: the
    kernel accepted the program; its log is complete and is this program's
    log; no store, atomic or helper on any path the verifier explored or the
    static analysis followed may write the packet, and the two agree; no
    helper or kfunc changes packet data, length or metadata; no tail call;
    every instruction decoded.
``writes``
    The write set is known: packet byte spans with their fields, metadata,
    length changes, each with its instruction and C line.
``unknown``
    Some condition could not be checked; ``reasons`` says which. OVS treats
    it as writes of everything.

Where static analysis and log disagree about an instruction, the answer
keeps what either found (the union) and lists the disagreement.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from analyzer.cfg import Cfg, build_cfg
from analyzer.elf import MapSpec, ProgramSpec, RelocationKind
from analyzer.errors import AnalyzerError
from analyzer.fields import LENGTH, METADATA, fields_in_span
from analyzer.helpers import HELPER_NAMES, helper_by_name, kfunc_by_name, not_modelled_why
from analyzer.insn import BPF_PSEUDO_KFUNC_CALL, Insn, decode
from analyzer.provenance import (
    CallSite,
    MemoryAccess,
    ProvenanceResult,
    analyze_provenance,
    ctx_field,
)
from analyzer.symbolic import NOT_IN_FLOW_KEY, LayoutBasis, Lin, Naming, name_write
from analyzer.verifier_log import ParsedLog, check_program, parse_log

__all__ = [
    "Analysis",
    "Disagreement",
    "HelperUse",
    "KernelEvidence",
    "KernelInfo",
    "LengthChange",
    "MapUse",
    "MetadataWrite",
    "PacketWrite",
    "ProgramEffects",
    "analyze_program",
]

Verdict = Literal["read_only", "writes", "unknown"]
Evidence = Literal["static", "verifier"]


class PacketWrite(BaseModel):
    """Packet bytes one instruction may write, as offsets from the Ethernet header start.

    ``offset_min``/``offset_max``: the lowest and highest byte it may write
    (inclusive; ``offset_max`` None: no upper bound is known). ``size``:
    bytes written at once (None when an argument decides). ``fields``: the
    header fields it may hit, over every frame layout its paths allow
    (analyzer/symbolic.py). ``flow_key``: whether one of those bytes may be
    in OVS's flow key. ``via``: ``store``, ``atomic`` or the helper/kfunc.
    ``evidence``: who saw it. ``layout``: ``proved`` when every path fixed
    the headers the names are in; ``assumed`` when some bytes were named
    over the IPv4/IPv6 layouts of analyzer/fields.py because nothing fixed
    them: the span is sound, the names are what those bytes would be on
    such a frame only (on ARP, MPLS or IPv4 with options they are others).
    """

    insn: int
    offset_min: int
    offset_max: int | None
    size: int | None
    fields: list[str]
    flow_key: bool
    source: str | None
    via: str
    evidence: list[Evidence]
    note: str = ""
    layout: LayoutBasis = "proved"


class MetadataWrite(BaseModel):
    """A metadata field written (``meta.mark``), directly through the context or by a helper."""

    field: str
    insn: int
    source: str | None
    via: str
    classifier_visible: bool


class LengthChange(BaseModel):
    """A call that may change the packet's length or header layout.

    ``moves_bytes`` is False for a call that is only on the kernel's list of
    calls that change packet data (``bpf_helper_changes_pkt_data()``): it
    makes the verifier forget packet pointers, but leaves every byte from
    the Ethernet header on, and the length, as they were
    (``bpf_skb_pull_data`` makes bytes linear, ``bpf_xdp_adjust_meta`` moves
    the metadata area in front of them). Such a call keeps a program from
    ``read_only`` (the contract's condition 4), not the flow key from what
    it was.
    """

    insn: int
    helper: str
    source: str | None
    moves_bytes: bool = True


class HelperUse(BaseModel):
    """A helper or kfunc call: what the effects table says it does."""

    insn: int
    kind: Literal["helper", "kfunc"]
    name: str
    id: int | None
    effects: list[str]
    refused_in_ovs: bool
    note: str
    source: str | None


class MapUse(BaseModel):
    """A map the program reads or writes (lookups, updates, stores into values)."""

    name: str
    type: str | None
    read: bool
    written: bool
    insns: list[int]


class Disagreement(BaseModel):
    """An instruction the static analysis and the verifier log see differently."""

    insn: int
    static: str
    verifier: str
    resolution: str


class KernelInfo(BaseModel):
    """What the kernel said: accepted or not, and the log's own figures."""

    accepted: bool
    log_complete: bool
    processed_insns: int | None
    paths: int
    verification_time_us: int | None


class ProgramEffects(BaseModel):
    """The analyzer's answer for one program. Field names are a stable interface."""

    object: str
    program: str
    section: str
    type: str
    verdict: Verdict
    flow_key_affected: bool
    reasons: list[str]
    packet_writes: list[PacketWrite] = Field(default_factory=list)
    metadata_writes: list[MetadataWrite] = Field(default_factory=list)
    length_changes: list[LengthChange] = Field(default_factory=list)
    helpers: list[HelperUse] = Field(default_factory=list)
    maps: list[MapUse] = Field(default_factory=list)
    tail_calls: list[int] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)
    disagreements: list[Disagreement] = Field(default_factory=list)
    static_verdict: Verdict
    kernel: KernelInfo | None = None
    insn_count: int

    def effect_names(self) -> set[str]:
        """The proven effects in the words of ``EXTFRAME_EFFECTS``: what a declaration must say.

        Packet fields written, classifier-visible metadata written, and
        ``length`` for a length or layout change, which stands for every
        packet byte (after it, offsets no longer name the original fields).
        Metadata OVS never sees again (cb, csum, hash) is not an effect.
        """
        meta = {m.field for m in self.metadata_writes if m.classifier_visible}
        if self.length_changes:
            return {LENGTH} | meta
        return {f for w in self.packet_writes for f in w.fields} | meta


@dataclass(frozen=True, kw_only=True)
class KernelEvidence:
    """What loading the program told: accepted or not, the log, the instructions sent.

    ``insns``: the bytecode the kernel verified (libbpf's relocated copy),
    compared with the object's own; None when not known. ``error``: the
    rejection reason when not accepted.
    """

    accepted: bool
    log: str
    log_complete: bool
    insns: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class Analysis:
    """An answer and what it was computed from (for listings and tests)."""

    effects: ProgramEffects
    program: ProgramSpec
    cfg: Cfg | None
    provenance: ProvenanceResult | None
    log: ParsedLog | None


def analyze_program(
    program: ProgramSpec,
    prog_type: Literal["tc", "xdp"] = "tc",
    *,
    object_name: str = "",
    maps: Sequence[MapSpec] = (),
    kernel: KernelEvidence | None = None,
) -> Analysis:
    """Effects and verdict of ``program`` (see the module docstring).

    Without ``kernel`` the answer is static only: it can say ``writes`` or
    ``unknown``, never ``read_only`` (conditions 1-3 need the verifier).
    """
    return _Verdict(program, prog_type, object_name, maps, kernel).run()


# --- the combination --------------------------------------------------------------


class _Verdict:
    def __init__(
        self,
        program: ProgramSpec,
        prog_type: Literal["tc", "xdp"],
        object_name: str,
        maps: Sequence[MapSpec],
        kernel: KernelEvidence | None,
    ) -> None:
        self.program = program
        self.prog_type = prog_type
        self.object_name = object_name
        self.maps = {m.name: m for m in maps}
        self.kernel = kernel
        self.unknown: list[str] = []
        self.refused: list[str] = []
        self.writes: dict[tuple[int, str], PacketWrite] = {}
        self.metadata: dict[tuple[str, int], MetadataWrite] = {}
        self.lengths: list[LengthChange] = []
        self.helpers: list[HelperUse] = []
        self.tail_calls: list[int] = []
        self.disagreements: list[Disagreement] = []
        self.map_uses: list[MapUse] = []
        self.cfg: Cfg | None = None
        self.prov: ProvenanceResult | None = None
        self.parsed: ParsedLog | None = None
        self.kernel_info: KernelInfo | None = None

    def source(self, index: int) -> str | None:
        line = self.program.source_line(index)
        if line is None or not line.line:
            return None
        return f"{os.path.basename(line.file)}:{line.line}"

    def where(self, index: int) -> str:
        src = self.source(index)
        return f"insn {index} ({src})" if src else f"insn {index}"

    # -- steps ------------------------------------------------------------------------

    def run(self) -> Analysis:
        insns = self.program.insns
        for insn in insns:
            if not insn.known:
                self.unknown.append(
                    f"{self.where(insn.index)}: unknown instruction {insn.to_bytes().hex()} "
                    f"({insn.reason}); nothing is assumed about it"
                )
        self.static(insns)
        static_verdict = self.verdict()
        if self.kernel is None:
            if static_verdict == "read_only":
                self.unknown.append(
                    "the static analysis found no write, but read_only needs the kernel "
                    "verifier's complete log (run without --no-kernel)"
                )
        else:
            self.with_kernel(self.kernel, insns)
        self.widen_after_layout_changes()
        verdict = self.verdict()
        effects = ProgramEffects(
            object=self.object_name,
            program=self.program.name,
            section=self.program.section,
            type=self.prog_type,
            verdict=verdict,
            flow_key_affected=self.flow_key_affected(verdict),
            reasons=self.reasons(verdict),
            packet_writes=sorted(self.writes.values(), key=lambda w: (w.insn, w.via)),
            metadata_writes=sorted(self.metadata.values(), key=lambda m: (m.insn, m.field)),
            length_changes=self.lengths,
            helpers=self.helpers,
            maps=self.map_uses,
            tail_calls=self.tail_calls,
            refused=self.refused,
            disagreements=sorted(self.disagreements, key=lambda d: d.insn),
            static_verdict=static_verdict,
            kernel=self.kernel_info,
            insn_count=self.program.slot_count,
        )
        return Analysis(effects, self.program, self.cfg, self.prov, self.parsed)

    def static(self, insns: Sequence[Insn]) -> None:
        try:
            self.cfg = build_cfg(insns, (f.start for f in self.program.functions))
        except AnalyzerError as exc:
            self.unknown.append(f"the control flow cannot be followed: {exc}")
            return
        map_names: dict[int, tuple[str, str]] = {}
        kfunc_names: dict[int, str] = {}
        for r in self.program.relocations:
            if r.kind == RelocationKind.MAP:
                map_names[r.index] = ("map", r.target)
            elif r.kind == RelocationKind.GLOBAL_DATA:
                map_names[r.index] = ("data", r.target)
            elif r.kind == RelocationKind.OTHER:
                map_names[r.index] = ("other", r.target)
            elif r.kind == RelocationKind.KFUNC:
                kfunc_names[r.index] = r.target
        self.prov = prov = analyze_provenance(
            self.cfg, self.prog_type, map_names=map_names, kfunc_names=kfunc_names
        )
        self.unknown.extend(prov.problems)
        for access in prov.accesses:
            self.static_access(access)
        for site in prov.calls:
            self.call(site)
        names = sorted(set(prov.map_reads) | set(prov.map_writes))
        for name in names:
            spec = self.maps.get(name)
            reads = prov.map_reads.get(name, frozenset())
            writes = prov.map_writes.get(name, frozenset())
            self.map_uses.append(
                MapUse(
                    name=name,
                    type=spec.type_name if spec else None,
                    read=bool(reads),
                    written=bool(writes),
                    insns=sorted(reads | writes),
                )
            )

    def static_access(self, a: MemoryAccess) -> None:
        if a.target == "unknown":
            self.unknown.append(
                f"{self.where(a.insn)}: {a.via} through a pointer whose origin the analysis "
                "cannot follow; it may write the packet"
            )
            return
        if a.target == "pkt_meta":
            self.add_metadata("meta.data_meta", a.insn, a.via)
            return
        if a.target == "ctx":
            name = ctx_field(self.prog_type, a.lo) if a.lo is not None else "ctx"
            self.add_metadata(f"meta.{name}", a.insn, a.via)
            return
        lo = a.lo or 0
        start = a.start if a.start is not None else Lin((), lo, _first_start(lo, a.hi, a.size))
        naming = name_write(
            start, a.size if a.start is not None or a.hi is None else 1, a.facts, a.keep
        )
        row = helper_by_name(a.via) or kfunc_by_name(a.via)
        if row is not None and row.writes_fields and _untagged(naming):
            # On an untagged frame whose layout the path proved, the call
            # writes only these fields (bpf_skb_ecn_set_ce: the ECN bits and
            # the IPv4 checksum) of those its span hits. Not on a tagged one:
            # there the kernel's network header is still at byte 14, on the
            # tag, and the helper writes the TCI and the inner header's bytes
            # 6-7 (or 2-3) in their place.
            fields = naming.fields & frozenset(row.writes_fields)
            if fields:
                naming = Naming(fields, naming.flow_key and _in_key(fields), naming.layout)
        self.add_write(a.insn, lo, a.hi, a.size, a.via, "static", naming)

    def add_metadata(self, name: str, insn: int, via: str) -> None:
        self.metadata[(name, insn)] = MetadataWrite(
            field=name,
            insn=insn,
            source=self.source(insn),
            via=via,
            classifier_visible=name in METADATA,
        )

    def add_write(
        self,
        insn: int,
        lo: int,
        hi: int | None,
        size: int | None,
        via: str,
        evidence: Evidence,
        naming: Naming,
    ) -> None:
        key = (insn, via)
        old = self.writes.get(key)
        fields, flow_key, layout = set(naming.fields), naming.flow_key, naming.layout
        if old is not None:
            lo = min(lo, old.offset_min)
            hi = None if hi is None or old.offset_max is None else max(hi, old.offset_max)
            fields |= set(old.fields)
            flow_key = flow_key or old.flow_key
            if old.layout == "assumed":  # one assumed naming makes the union's names assumed
                layout = "assumed"
        self.writes[key] = PacketWrite(
            insn=insn,
            offset_min=lo,
            offset_max=hi,
            size=size,
            fields=sorted(fields),
            flow_key=flow_key,
            source=self.source(insn),
            via=via,
            evidence=sorted({evidence, *(old.evidence if old else ())}),
            layout=layout,
        )

    def call(self, site: CallSite) -> None:
        insn, kind, name, call_id, effect = site.insn, site.kind, site.name, site.id, site.effect
        where = self.where(insn)
        if effect is None:
            # A helper without a row is named bpf_NAME (provenance's call_row),
            # or helper#N for a number newer than the table.
            called = name
            if kind == "helper" and call_id in HELPER_NAMES:
                called = f"{name} (#{call_id})"
            elif kind == "helper":
                called = f"#{call_id}, newer than Linux 6.18,"
            why = not_modelled_why(kind, name)
            if why:
                self.unknown.append(
                    f"{where}: {kind} {called} is not modelled ({why}); its effects are unknown"
                )
            else:
                self.unknown.append(
                    f"{where}: {kind} {called} is not in the effects table; its effects are unknown"
                )
            self.helpers.append(
                HelperUse(
                    insn=insn,
                    kind=kind,
                    name=name,
                    id=call_id,
                    effects=["unknown"],
                    refused_in_ovs=False,
                    note="",
                    source=self.source(insn),
                )
            )
            return
        tags: list[str] = []
        if effect.writes_packet_bytes:
            tags.append("writes packet bytes")
        if effect.writes_memory:
            tags.append("writes through a pointer argument")
        # The kernel's "changes packet data" list (bpf_helper_changes_pkt_data)
        # counts even where the table knows of no visible change (pull_data
        # makes bytes linear): the contract's condition 4 names that list.
        pointer_only = effect.invalidates_packet_pointers and not (
            effect.writes_packet_bytes or effect.changes_length_or_layout or effect.tail_call
        )
        if effect.changes_length_or_layout or pointer_only:
            tags.append(
                "changes length or layout"
                if effect.changes_length_or_layout
                else "changes packet data (the kernel's list): moves or re-lays out bytes"
            )
            self.lengths.append(
                LengthChange(
                    insn=insn,
                    helper=effect.symbol,
                    source=self.source(insn),
                    moves_bytes=not pointer_only,
                )
            )
        for m in effect.writes_metadata:
            tags.append(f"writes meta.{m}")
            self.add_metadata(f"meta.{m}", insn, effect.symbol)
        if effect.writes_map:
            tags.append("writes a map")
        if effect.tail_call:
            tags.append("tail call")
            self.tail_calls.append(insn)
            self.unknown.append(f"{where}: bpf_tail_call jumps to a program that was not analysed")
        if effect.refused_in_ovs:
            self.refused.append(f"{where}: {effect.symbol}: {effect.note}")
        self.helpers.append(
            HelperUse(
                insn=insn,
                kind=kind,
                name=effect.symbol,
                id=call_id,
                effects=tags or ["reads only"],
                refused_in_ovs=effect.refused_in_ovs,
                note=effect.note,
                source=self.source(insn),
            )
        )

    # -- the kernel's side ---------------------------------------------------------------

    def with_kernel(self, kernel: KernelEvidence, insns: Sequence[Insn]) -> None:
        if not kernel.accepted:
            self.kernel_info = KernelInfo(
                accepted=False,
                log_complete=kernel.log_complete,
                processed_insns=None,
                paths=0,
                verification_time_us=None,
            )
            self.unknown.append(
                f"the verifier rejected the program: {kernel.error or 'see its log'}"
            )
            return
        parsed = self.parsed = parse_log(kernel.log)
        self.kernel_info = KernelInfo(
            accepted=True,
            log_complete=kernel.log_complete and parsed.complete,
            processed_insns=parsed.processed_insns,
            paths=parsed.paths,
            verification_time_us=parsed.verification_time_us,
        )
        if not kernel.log_complete:
            self.unknown.append("the verifier log is truncated: the buffer could not hold it")
            return
        if kernel.insns is not None:
            relocated = {r.index for r in self.program.relocations}
            differs = _first_difference(insns, kernel.insns, relocated)
            if differs is not None:
                self.unknown.append(differs)
                return
        opcodes = [0] * self.program.slot_count
        for insn in insns:
            opcodes[insn.index] = insn.opcode
        problem = check_program(parsed, self.program.slot_count, opcodes)
        if problem is not None:
            self.unknown.append(f"the verifier log cannot be used: {problem}")
            return
        self.compare_stores(parsed, insns)
        self.compare_reach(parsed)

    def in_global_function(self, index: int) -> bool:
        """Whether instruction ``index`` is in a global function (verified on its own)."""
        return any(index in f for f in self.program.global_functions)

    def compare_reach(self, parsed: ParsedLog) -> None:
        """The static analysis must reach every instruction the verifier explored.

        It follows a superset of the real paths; an instruction the verifier
        reached and it did not means it pruned a branch it should not have,
        and nothing it says about the code after the branch can be trusted.
        """
        if self.prov is None:
            return
        missed = sorted({s.insn for s in parsed.insns} - self.prov.reached)
        if missed:
            shown = ", ".join(str(i) for i in missed[:8]) + (" ..." if len(missed) > 8 else "")
            self.unknown.append(
                f"{self.where(missed[0])}: the verifier explored instructions the static "
                f"analysis did not reach ({shown}); it cannot vouch for them"
            )

    def compare_stores(self, parsed: ParsedLog, insns: Sequence[Insn]) -> None:
        by_index = {i.index: i for i in insns}
        seen: dict[int, list[str]] = {}
        spans: dict[int, tuple[int, int | None, int]] = {}
        for state in parsed.insns:
            insn = by_index.get(state.insn)
            if insn is None or not insn.is_memory_write():
                continue
            base = state.reg(insn.dst)
            seen.setdefault(insn.index, []).append(base.raw)
            size = insn.access_size or 8
            if base.kind == "pkt":
                bounds = base.bounds()
                lo = max(0, base.off + insn.off + (bounds[0] if bounds else 0))
                hi = None if bounds is None else base.off + insn.off + bounds[1] + size - 1
                old = spans.get(insn.index)
                if old is not None:
                    lo = min(lo, old[0])
                    hi = None if hi is None or old[1] is None else max(hi, old[1])
                spans[insn.index] = (lo, hi, size)
            elif base.kind == "pkt_meta":
                self.add_metadata("meta.data_meta", insn.index, "store")
            elif base.kind == "ctx":
                # Context writes count from either witness, like packet writes.
                name = ctx_field(self.prog_type, base.off + insn.off)
                self.add_metadata(f"meta.{name}", insn.index, "store")
            elif base.kind == "unknown":
                self.unknown.append(
                    f"{self.where(insn.index)}: the verifier log does not show what "
                    f"r{insn.dst} points to"
                )
        static_pkt = {w.insn: w for w in self.writes.values() if w.via in ("store", "atomic")}
        for index, (lo, hi, size) in spans.items():
            write = static_pkt.get(index)
            via = "atomic" if by_index[index].is_atomic() else "store"
            if write is None:
                self.disagreements.append(
                    Disagreement(
                        insn=index,
                        static="no packet pointer",
                        verifier=f"packet pointer, bytes {_span(lo, hi)}",
                        resolution="kept as a packet write",
                    )
                )
                self.add_write(index, lo, hi, size, via, "verifier", _blind(lo, hi))
                continue
            # Both see a packet write. Each span should cover every real
            # write, so the intersection would do; the union is kept instead,
            # so that a mistake in either witness (our log parser or our
            # static analysis) can only widen the answer, never hide a byte.
            s_lo, s_hi = write.offset_min, write.offset_max
            disjoint = (hi is not None and hi < s_lo) or (s_hi is not None and s_hi < lo)
            if disjoint:
                self.disagreements.append(
                    Disagreement(
                        insn=index,
                        static=f"bytes {_span(s_lo, s_hi)}",
                        verifier=f"bytes {_span(lo, hi)}",
                        resolution="kept both spans",
                    )
                )
            # The static witness names the fields from what its paths knew;
            # a span it does not cover is named knowing nothing. In a global
            # function the kernel's span is for any argument the function's
            # type allows, not for this program's callers, so it cannot check
            # the static positions, which follow the callers' arguments: where
            # the two spans meet, the static names stand.
            covered = (s_lo <= lo and (s_hi is None or (hi is not None and hi <= s_hi))) or (
                not disjoint and self.in_global_function(index)
            )
            naming = (
                Naming(frozenset(write.fields), write.flow_key, write.layout)
                if covered
                else _blind(lo, hi)
            )
            self.add_write(index, lo, hi, size, via, "verifier", naming)
        for index, write in static_pkt.items():
            if index in spans:
                continue
            if index in seen:
                memory = all(raw.startswith("mem") for raw in seen[index])
                self.disagreements.append(
                    Disagreement(
                        insn=index,
                        static=f"packet pointer, bytes {_span(write.offset_min, write.offset_max)}",
                        verifier="not a packet pointer on any explored path: "
                        + ", ".join(sorted(set(seen[index]))[:4]),
                        resolution=(
                            "kept as a packet write (the verifier types dynptr slices and "
                            "global functions' pointer arguments as plain memory)"
                            if memory
                            else "kept as a packet write"
                        ),
                    )
                )

    def widen_after_layout_changes(self) -> None:
        """Offsets are from the Ethernet header only while the packet keeps its layout.

        After bpf_xdp_adjust_head, bpf_skb_vlan_push and the like, packet
        pointers count from a moved start: a write's offset says nothing
        about the original frame, so every write may hit any byte, and no
        layout a path proved names them.
        """
        moving = [c for c in self.lengths if c.moves_bytes]
        if not moving:  # pull_data and the like leave every offset where it was
            return
        first = min(c.insn for c in moving)
        for key, w in list(self.writes.items()):
            if (w.offset_min, w.offset_max) != (0, None):
                self.writes[key] = w.model_copy(
                    update={
                        "offset_min": 0,
                        "offset_max": None,
                        "fields": fields_in_span(0, None),
                        "flow_key": True,
                        "layout": "assumed",
                        "note": f"the layout changes ({self.where(first)}): offsets are not "
                        "fixed to the original frame",
                    }
                )
            else:
                self.writes[key] = w.model_copy(update={"layout": "assumed"})

    # -- the answer ---------------------------------------------------------------------

    def verdict(self) -> Verdict:
        if self.unknown:
            return "unknown"
        if self.writes or self.metadata or self.lengths:
            return "writes"
        return "read_only"

    def flow_key_affected(self, verdict: Verdict) -> bool:
        # A write counts unless every frame layout its paths allow puts all
        # of its bytes outside the flow key (payload, checksums): see
        # analyzer/symbolic.py and docs/decisions/0003.
        if verdict == "unknown" or any(c.moves_bytes for c in self.lengths):
            return True
        if any(w.flow_key for w in self.writes.values()):
            return True
        return any(m.classifier_visible for m in self.metadata.values())

    def reasons(self, verdict: Verdict) -> list[str]:
        if verdict == "unknown":
            return list(dict.fromkeys(self.unknown))
        out: list[str] = []
        for w in sorted(self.writes.values(), key=lambda w: w.insn):
            fields = ", ".join(w.fields)
            out.append(
                f"{self.where(w.insn)}: {w.via} writes packet bytes "
                f"{_span(w.offset_min, w.offset_max)} ({fields})"
            )
        for m in sorted(self.metadata.values(), key=lambda m: m.insn):
            out.append(f"{self.where(m.insn)}: {m.via} writes {m.field}")
        for c in self.lengths:
            out.append(f"{self.where(c.insn)}: {c.helper} changes the packet's length or layout")
        if verdict == "read_only":
            info = self.kernel_info
            paths = f"{info.paths} paths, " if info else ""
            processed = f"{info.processed_insns} insns" if info and info.processed_insns else ""
            out.append(
                "proved read-only: the verifier accepted the program and its whole log "
                f"({paths}{processed}) shows no store through a packet pointer; the static "
                "analysis agrees on every path; no helper or kfunc changes the packet, its "
                "length or its metadata"
            )
        for d in self.disagreements:
            out.append(
                f"{self.where(d.insn)}: static analysis and verifier disagree "
                f"(static: {d.static}; verifier: {d.verifier}): {d.resolution}"
            )
        return out


def _first_start(lo: int, hi: int | None, size: int | None) -> int | None:
    """The last first byte of a write of ``size`` bytes whose bytes lie in ``[lo, hi]``."""
    if hi is None or size is None:
        return hi
    return max(lo, hi - size + 1)


def _untagged(naming: Naming) -> bool:
    """Whether the path proved the layout, and no VLAN tag is in it."""
    return naming.layout == "proved" and not any(f.startswith("vlan.") for f in naming.fields)


def _in_key(fields: frozenset[str]) -> bool:
    return any(f not in NOT_IN_FLOW_KEY for f in fields)


def _blind(lo: int, hi: int | None) -> Naming:
    """The fields bytes ``[lo, hi]`` may hit on a path about which nothing is known."""
    return name_write(Lin((), lo, hi), 1, frozenset())


def _span(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"{lo}..end"
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _first_difference(
    insns: Sequence[Insn], kernel_bytes: bytes, relocated: set[int]
) -> str | None:
    """Why the kernel's copy of the program is not the object's, or None.

    ``relocated`` instructions (map and data loads, kfunc calls) get their
    ``src`` and ``imm`` from libbpf (file descriptors, BTF ids); everything
    else must be equal.
    """
    try:
        theirs = {i.index: i for i in decode(kernel_bytes)}
    except AnalyzerError as exc:
        return f"the kernel's copy of the program cannot be decoded: {exc}"
    ours = {i.index: i for i in insns}
    if set(theirs) != set(ours):
        return (
            f"the kernel verified {len(kernel_bytes) // 8} slots, the object has "
            f"{sum(i.size for i in insns)}: the log is not of this code"
        )
    for index, a in sorted(ours.items()):
        b = theirs[index]
        moved = index in relocated or (a.is_ld_imm64() and a.src != 0)
        moved = moved or (a.is_call() and a.src == BPF_PSEUDO_KFUNC_CALL)
        same = (a.opcode, a.dst, a.off) == (b.opcode, b.dst, b.off)
        if not same or (not moved and (a.src, a.imm, a.imm64) != (b.src, b.imm, b.imm64)):
            return f"insn {index} differs between the object and the kernel's copy"
    return None
