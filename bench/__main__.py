"""``python -m bench [PART ...]``: run the benchmarks, print their tables, write bench/results/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bench import analysis, datapath, dpdk, scaling, testrun
from bench.common import MeasurementError, RunOptions, results_dir
from extframe.errors import ExtframeError

PARTS: dict[str, tuple[Callable[[RunOptions], int], str]] = {
    "testrun": (testrun.main, "an action's own run time against one BPF_PROG_TEST_RUN call"),
    "analysis": (analysis.main, "extframe check's analysis time against the kernel's verification"),
    "scaling": (scaling.main, "analysis and verification time on generated programs, with a plot"),
    "datapath": (datapath.main, "the patched OVS datapath: (a) stock, (b) read-only action, "
                 "(c) forced re-classification, (d) writer in-process, (e) in the kernel, "
                 "(f) OVS's own dec_ttl; each action's cost; the summary line"),
    "dpdk": (dpdk.main, "whether DPDK 22.11's BPF library loads what the kernel verified "
             "(only when named)"),
}  # fmt: skip

#: Parts that run only when named: they need what `make setup` does not install
#: (dpdk: Debian's librte-bpf23).
ON_REQUEST = frozenset({"dpdk"})


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmarks measured side by side in one run; tables and plots go to "
        "bench/results/ ($EXTFRAME_BENCH_RESULTS). Parts (all but dpdk by default):\n"
        + "\n".join(f"  {name:<9} {what}" for name, (_, what) in PARTS.items()),
    )
    p.add_argument("parts", nargs="*", metavar="PART", help="which parts to run")
    p.add_argument("--rounds", type=int, help="alternating rounds (each part has its default)")
    p.add_argument(
        "--seconds",
        type=float,
        help=f"datapath: sending time per round (default {datapath.SECONDS:g})",
    )
    p.add_argument(
        "--max-insns", type=int, help="scaling: the largest generated program (default 100000)"
    )
    args = p.parse_args(argv)
    unknown = [n for n in args.parts if n not in PARTS]
    if unknown:
        p.error(f"unknown part {', '.join(unknown)}; known: {', '.join(PARTS)}")
    options = RunOptions(rounds=args.rounds, seconds=args.seconds, max_insns=args.max_insns)
    rc = 0
    for name in args.parts or [n for n in PARTS if n not in ON_REQUEST]:
        print(f"## {name}\n", flush=True)
        try:
            rc = max(rc, PARTS[name][0](options))
        except (MeasurementError, ExtframeError) as e:
            print(f"bench: {name}: {e}", file=sys.stderr)
            return 1
        print(flush=True)
    print(f"results in {results_dir()}")
    return rc


raise SystemExit(main(sys.argv[1:]))
