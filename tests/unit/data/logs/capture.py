"""Capture the verifier-log fixtures in this folder from the running kernel.

Run as root from the repository root: ``.venv/bin/python
tests/unit/data/logs/capture.py``. For each ``NAME.c`` here it writes
``NAME.log`` (the complete level-2 log with BPF_LOG_STATS, as
``extframe.loader`` requests it) and, for programs the verifier accepts,
``NAME.insns`` (the instructions as libbpf handed them to the kernel, 8 bytes
a slot, so tests can check that a log belongs to its program). With
``--actions`` it first copies ``actions/*.c`` here as ``action_NAME.c``.
Logs bigger than 256 KiB are stored gzip-compressed (``NAME.log.gz``). The
unit tests read only these files; they never build or load anything.
"""

from __future__ import annotations

import ctypes
import gzip
import shutil
import sys
import tempfile
from pathlib import Path

from extframe import libbpf
from extframe.build import BuildOptions, build
from extframe.errors import VerifierError
from extframe.loader import load_object

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
BIG = 256 << 10


def _write_log(stem: str, log: str) -> None:
    for old in (HERE / f"{stem}.log", HERE / f"{stem}.log.gz"):
        old.unlink(missing_ok=True)
    if len(log) > BIG:
        # mtime=0: the same log gives the same bytes.
        (HERE / f"{stem}.log.gz").write_bytes(gzip.compress(log.encode(), mtime=0))
    else:
        (HERE / f"{stem}.log").write_text(log)


def capture(source: Path, tmp: Path) -> None:
    """Build, load and record one fixture."""
    obj_path = build(source, tmp / f"{source.stem}.o", BuildOptions())
    (HERE / f"{source.stem}.insns").unlink(missing_ok=True)
    try:
        obj = load_object(obj_path)
    except VerifierError as exc:
        _write_log(source.stem, exc.log)
        print(f"{source.name}: rejected, {len(exc.log.splitlines())} log lines")
        return
    with obj:
        prog = obj.program()
        lib = libbpf.lib()
        # libbpf keeps the final (relocated, subprogram-linked) instructions
        # until the object is closed; the loader does not expose them.
        handle = obj._handle
        p = lib.bpf_object__next_program(handle, None)
        count = lib.bpf_program__insn_cnt(p)
        insns = ctypes.string_at(lib.bpf_program__insns(p), count * 8)
        assert count == prog.insn_count and prog.log_complete
        (HERE / f"{source.stem}.insns").write_bytes(insns)
        _write_log(source.stem, prog.log)
        print(f"{source.name}: {count} insns, {len(prog.log.splitlines())} log lines")


def main(argv: list[str]) -> None:
    """Capture every fixture, or those named on the command line."""
    if "--actions" in argv:
        argv = [a for a in argv if a != "--actions"]
        for src in sorted((ROOT / "actions").glob("*.c")):
            shutil.copyfile(src, HERE / f"action_{src.name}")
    sources = [HERE / a for a in argv] if argv else sorted(HERE.glob("*.c"))
    with tempfile.TemporaryDirectory() as tmp:
        for src in sources:
            capture(src, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
