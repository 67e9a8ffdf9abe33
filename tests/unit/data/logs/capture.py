"""Capture the verifier-log fixtures in this folder from the running kernel.

Run as root from the repository root: ``.venv/bin/python
tests/unit/data/logs/capture.py``. For each ``NAME.c`` here it writes
``NAME.log`` (the complete level-2 log with BPF_LOG_STATS, as
``extframe.kernel.loader`` requests it) and, for programs the verifier accepts,
``NAME.insns`` (the instructions as libbpf handed them to the kernel, 8 bytes
a slot, so tests can check that a log belongs to its program). The bundled
actions are captured as ``action_NAME`` from the project's one frozen copy
of them, ``../elf/actions/`` (refresh it with ``../elf/build.sh``), so the
ELF and the log fixtures always come from the same sources.
Logs bigger than 256 KiB are stored gzip-compressed (``NAME.log.gz``); a
rejection's log bigger than 4 MiB keeps only its last 2,000 lines, which is
all its summary reads (as a rotating kernel log would keep its end).
Arguments may also be sources elsewhere in the tree (a crafted program the
running kernel rejects). The unit tests read only these files; they never
build or load anything.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

from extframe.build import BuildOptions, build
from extframe.errors import VerifierError
from extframe.kernel.loader import load_object

HERE = Path(__file__).resolve().parent
BIG = 256 << 10
HUGE = 4 << 20


def _write_log(stem: str, log: str) -> None:
    for old in (HERE / f"{stem}.log", HERE / f"{stem}.log.gz"):
        old.unlink(missing_ok=True)
    if len(log) > BIG:
        # mtime=0: the same log gives the same bytes.
        (HERE / f"{stem}.log.gz").write_bytes(gzip.compress(log.encode(), mtime=0))
    else:
        (HERE / f"{stem}.log").write_text(log)


ACTIONS = HERE.parent / "elf" / "actions"


def capture(source: Path, stem: str, tmp: Path) -> None:
    """Build, load and record one fixture as ``stem``."""
    opts = BuildOptions(include_dirs=(ACTIONS / "include",))
    obj_path = build(source, tmp / f"{stem}.o", opts)
    (HERE / f"{stem}.insns").unlink(missing_ok=True)
    try:
        obj = load_object(obj_path)
    except VerifierError as exc:
        log = exc.log
        if len(log) > HUGE:
            log = "\n".join(log.splitlines()[-2000:]) + "\n"
        _write_log(stem, log)
        print(f"{stem}: rejected, {len(exc.log.splitlines())} log lines")
        return
    with obj:
        prog = obj.program()
        assert prog.log_complete
        (HERE / f"{stem}.insns").write_bytes(prog.insns)
        _write_log(stem, prog.log)
        print(f"{stem}: {prog.insn_count} insns, {len(prog.log.splitlines())} log lines")


def main(argv: list[str]) -> None:
    """Capture every fixture, or those named on the command line."""
    sources = [HERE / a if (HERE / a).exists() else Path(a).resolve() for a in argv]
    if not argv:
        sources = sorted(HERE.glob("*.c"))
    if not argv:
        sources += sorted(ACTIONS.glob("*.c"))
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            stem = f"action_{src.stem}" if src.parent == ACTIONS else src.stem
            capture(src, stem, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
