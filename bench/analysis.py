"""What the analyzer costs, against the kernel's own verification of the same program.

For each bundled action and each crafted program of
tests/kernel/progs/effects/, four figures are taken in rounds that
alternate, so that all see the same machine state:

- ``verify_us``: the kernel's own ``verification time N usec`` from the log
  of one load (level 2 with stats, as ``extframe check`` loads);
- ``analysis_us``: the wall time of ``analyze_program`` with that load's
  ``KernelEvidence`` (static analysis, log parse, combination), as
  ``extframe check`` calls it;
- ``static_us``: the same call without the kernel (``kernel=None``);
- ``parse``: ``parse_log`` alone on that log, as MB/s and lines/s.

The ratio ``analysis_us / verify_us`` is what ``extframe check`` adds to a
load: the analyzer's cost in units of the verifier's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from analyzer.effects import analyze_program
from analyzer.elf import ObjectSpec
from analyzer.verifier_log import parse_log
from bench.common import RunOptions, publish
from extframe.build import build
from extframe.check import evidence_of
from extframe.errors import VerifierError
from extframe.kernel import load_object

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
EFFECTS = ROOT / "tests" / "kernel" / "progs" / "effects"
ROUNDS = 3


@dataclass(frozen=True)
class Row:
    """Medians over the rounds for one program."""

    name: str
    insns: int
    log_bytes: int
    verify_us: float
    analysis_us: float
    static_us: float
    parse_mb_s: float
    parse_lines_s: float
    verdict: str = ""  # what the analysis with the kernel's log proved

    @property
    def ratio(self) -> float:
        return self.analysis_us / self.verify_us


def _us(start_ns: int) -> float:
    return (time.perf_counter_ns() - start_ns) / 1000


def measure(obj_path: Path, label: str, rounds: int = ROUNDS, warmup: bool = True) -> list[Row]:
    """One row per program of the object: medians over ``rounds`` alternating rounds.

    With ``warmup``, one more round comes first and is not counted.
    """
    spec = ObjectSpec.from_bytes(obj_path.read_bytes(), name=str(obj_path))
    samples: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    kinds: dict[str, Literal["tc", "xdp"]] = {}
    verdicts: dict[str, str] = {}
    skip = 1 if warmup else 0  # a warm-up round only warms imports and caches
    for i in range(rounds + skip):
        with load_object(obj_path) as obj:
            loaded = obj.programs
        for lp in loaded:
            if not lp.log_complete:
                raise SystemExit(f"{label}: {lp.name}: the verifier log is not complete")
            kind: Literal["tc", "xdp"] = "tc" if lp.type_name == "tc" else "xdp"
            program = spec.program(lp.name)
            evidence = evidence_of(lp)
            start = time.perf_counter_ns()
            parsed = parse_log(lp.log)
            parse_us = _us(start)
            start = time.perf_counter_ns()
            result = analyze_program(
                program, kind, object_name=spec.name, maps=spec.maps, kernel=evidence
            )
            analysis_us = _us(start)
            start = time.perf_counter_ns()
            analyze_program(program, kind, object_name=spec.name, maps=spec.maps, kernel=None)
            static_us = _us(start)
            if parsed.verification_time_us is None:
                raise SystemExit(f"{label}: {lp.name}: no 'verification time' line in the log")
            if i == 0:
                kinds[lp.name] = kind
                sizes[lp.name] = (len(lp.log.encode()), len(lp.log.splitlines()))
                verdicts[lp.name] = result.effects.verdict
            if i < skip:
                continue
            s = samples.setdefault(lp.name, {})
            s.setdefault("verify", []).append(parsed.verification_time_us)
            s.setdefault("analysis", []).append(analysis_us)
            s.setdefault("static", []).append(static_us)
            s.setdefault("parse", []).append(parse_us)
    rows = []
    for name, s in samples.items():
        med = {k: statistics.median(v) for k, v in s.items()}
        if min(med.values()) <= 0:
            zero = ", ".join(k for k, v in med.items() if v <= 0)
            raise SystemExit(f"{label}: {name}: {zero} measured as zero; nothing measured")
        log_bytes, log_lines = sizes[name]
        parse_s = med["parse"] / 1e6
        rows.append(
            Row(
                name=label if len(samples) == 1 else f"{label}:{name}",
                insns=spec.program(name).slot_count,
                log_bytes=log_bytes,
                verify_us=med["verify"],
                analysis_us=med["analysis"],
                static_us=med["static"],
                parse_mb_s=log_bytes / 1e6 / parse_s,
                parse_lines_s=log_lines / parse_s,
                verdict=verdicts[name],
            )
        )
    return rows


def table(rows: list[Row], rounds: int = ROUNDS) -> list[str]:
    """The markdown table and its summary line."""
    lines = [
        f"Analysis cost against the kernel's verification, median of {rounds} alternating rounds",
        "",
        "| program | insns | log KiB | verify_us (kernel's own) | analysis_us (static + log) "
        "| analysis / verify | static_us (no log) | parse MB/s | parse lines/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.insns} | {r.log_bytes / 1024:.1f} | {r.verify_us:.0f} "
            f"| {r.analysis_us:.0f} | {r.ratio:.1f}x | {r.static_us:.0f} "
            f"| {r.parse_mb_s:.1f} | {r.parse_lines_s:.0f} |"
        )
    gmean = statistics.geometric_mean(r.ratio for r in rows)
    lines += ["", f"analysis / verify, geometric mean over {len(rows)} programs: {gmean:.1f}x"]
    return lines


def measure_all(
    sources: list[tuple[str, Path]], rounds: int, tmp: Path
) -> tuple[list[Row], list[str]]:
    """``measure`` each source; the rows, and a line for each crafted program the
    kernel refuses.

    Kernels change under us: a crafted program built on a construct this
    kernel refuses (tests/kernel/test_analysis.py NEEDS) has no verification
    to compare with, so it is named and left out. An action must load.
    """
    rows: list[Row] = []
    refused: list[str] = []
    for i, (label, src) in enumerate(sources):
        obj = build(src, tmp / f"{label.replace('/', '_')}.o")
        # Imports and caches warm once; a warm-up round per program would
        # take the whole of make bench past its 15 minutes.
        try:
            rows += measure(obj, label, rounds, warmup=i == 0)
        except VerifierError as e:
            if src.parent == ACTIONS:
                raise
            refused.append(f"{label}: refused by this kernel ({e.summary.reason}); not measured")
    return rows, refused


def main(options: RunOptions) -> int:
    rounds = options.rounds or ROUNDS
    sources = [(f"actions/{s.stem}", s) for s in sorted(ACTIONS.glob("*.c"))]
    sources += [(f"effects/{s.stem}", s) for s in sorted(EFFECTS.glob("*.c"))]
    with tempfile.TemporaryDirectory() as tmp:
        rows, refused = measure_all(sources, rounds, Path(tmp))
    if not rows:
        raise SystemExit("no program found to measure")
    publish("analysis", table(rows, rounds) + (["", *refused] if refused else []))
    return 0
