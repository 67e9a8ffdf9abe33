"""What it costs to run an action through BPF_PROG_TEST_RUN, against its own run time.

For each bundled action and a 64-byte UDP packet, two figures are taken in
rounds that alternate, so that both see the same machine state:

- ``prog_ns``: the kernel's own average over ``REPEAT`` runs inside one call
  (``bpf_test_run_opts.duration``): close to the program's run time;
- ``call_ns``: the wall-clock time of one call with ``repeat = 1`` from
  Python: syscall, packet copy in and out, skb set-up, ctypes.

The ratio ``call_ns / prog_ns`` is what one test-run call costs over the
program itself: the overhead a datapath that executes actions this way pays
per packet (DESIGN.md measured about 1.2 µs per call from C).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import RunOptions, publish
from extframe.build import build
from extframe.kernel import LoadOptions, RunInput, load_object, run
from extframe.packet import from_expression

ACTIONS = Path(__file__).resolve().parent.parent / "actions"
PACKET = (
    "Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')"
    "/IP(src='10.0.0.1', dst='10.0.0.2', ttl=64)/UDP(sport=1000, dport=2000)/Raw(b'x' * 22)"
)
REPEAT = 20000
CALLS = 2000
ROUNDS = 5


def measure(obj_path: Path, rounds: int = ROUNDS) -> tuple[float, float]:
    """Median prog_ns and call_ns over ``rounds`` alternating rounds."""
    packet = from_expression(PACKET)
    assert len(packet) == 64, len(packet)
    prog_ns: list[float] = []
    call_ns: list[float] = []
    with load_object(obj_path, LoadOptions(log_level=0)) as obj:
        prog = obj.program()
        inp = RunInput(packet=packet, in_port=1)
        run(prog, inp)  # warm caches and maps
        for _ in range(rounds):
            prog_ns.append(run(prog, RunInput(packet=packet, in_port=1, repeat=REPEAT)).duration_ns)
            start = time.perf_counter_ns()
            for _ in range(CALLS):
                run(prog, inp)
            call_ns.append((time.perf_counter_ns() - start) / CALLS)
    return statistics.median(prog_ns), statistics.median(call_ns)


def main(options: RunOptions) -> int:
    rounds = options.rounds or ROUNDS
    sources = sorted(ACTIONS.glob("*.c"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            obj = build(src, Path(tmp) / f"{src.stem}.o")
            prog_ns, call_ns = measure(obj, rounds)
            if prog_ns <= 0:
                raise SystemExit(f"{src.stem}: the kernel reported no run time; nothing measured")
            rows.append((src.stem, prog_ns, call_ns, call_ns / prog_ns))
    lines = [
        f"BPF_PROG_TEST_RUN cost, 64-byte UDP packet, median of {rounds} alternating rounds",
        "",
        "| action | prog_ns (in kernel) | call_ns (one call from Python) | call / prog |",
        "|---|---:|---:|---:|",
    ]
    for name, prog_ns, call_ns, ratio in rows:
        lines.append(f"| {name} | {prog_ns:.0f} | {call_ns:.0f} | {ratio:.1f}x |")
    publish("testrun", lines)
    return 0
