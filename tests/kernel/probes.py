"""Feature probes: does this kernel's verifier accept a construct?

Kernels change under CI (a 6.18 update started to refuse
``bpf_dynptr_slice_rdwr`` in tc programs), so tests that depend on a
construct ask the kernel, never its version. Each probe is a tiny program in
tests/kernel/progs/probes/ that uses the construct and nothing else; it is
loaded for real, and a ``VerifierError`` means the kernel refuses it. The
folder is outside progs/effects/ and below progs/, so no test takes a probe
for a crafted or a loader program.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from extframe.build import build
from extframe.errors import VerifierError
from extframe.kernel.loader import load_object

PROBES = Path(__file__).resolve().parent / "progs" / "probes"


@dataclass(frozen=True)
class Probe:
    """This kernel's answer to ``progs/probes/NAME.c``; ``refusal`` holds the verifier's log."""

    name: str
    refusal: VerifierError | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def probe(name: str, out_dir: Path) -> Probe:
    """Build and load ``progs/probes/NAME.c`` (the object goes to ``out_dir``).

    Only the verifier's refusal is an answer; a build or load that fails for
    another reason raises, since then the probe tells nothing.
    """
    src = PROBES / f"{name}.c"
    try:
        with load_object(build(src, out_dir / f"probe_{name}.o")):
            return Probe(name)
    except VerifierError as refusal:
        return Probe(name, refusal)


class Probes:
    """Probes run on first use and remembered, so a test pays only for those it asks."""

    def __init__(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._seen: dict[str, Probe] = {}

    def __call__(self, name: str) -> Probe:
        if name not in self._seen:
            self._seen[name] = probe(name, self._out_dir)
        return self._seen[name]
