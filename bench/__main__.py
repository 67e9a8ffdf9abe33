"""``python -m bench [NAME]``: run the benchmarks and print their tables."""

from __future__ import annotations

import sys

from bench import analysis, testrun

BENCHMARKS = {"testrun": testrun.main, "analysis": analysis.main}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    return max(BENCHMARKS[n]() for n in names)


raise SystemExit(main(sys.argv[1:]))
