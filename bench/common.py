"""What the benchmarks share: their options, their error, where their results go."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

#: ``$EXTFRAME_BENCH_RESULTS`` overrides it (the tests write to a temporary folder).
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What ``python -m bench`` was asked for; None means each benchmark's own default."""

    rounds: int | None = None
    seconds: float | None = None  # datapath: sending time per round
    max_insns: int | None = None  # scaling: the largest generated program


class MeasurementError(Exception):
    """A benchmark did not measure what it meant to; the message says what went wrong."""


def results_dir() -> Path:
    folder = Path(os.environ.get("EXTFRAME_BENCH_RESULTS", str(RESULTS)))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def machine() -> str:
    """One line about where the figures come from: date, kernel, CPU model and count."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{time.strftime('%Y-%m-%d')}; Linux {platform.release()}, {model}, {os.cpu_count()} CPUs"
    )


def publish(name: str, lines: list[str]) -> Path:
    """Print the table and write it, with the machine it came from, to results/NAME.md."""
    print("\n".join(lines))
    path = results_dir() / f"{name}.md"
    path.write_text("\n".join([*lines, "", f"Measured on: {machine()}", ""]))
    return path
