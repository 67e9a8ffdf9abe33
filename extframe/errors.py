"""The errors extframe raises, as one small flat tree.

Every error carries a one-line ``message`` that says what went wrong and what
to do; the CLI prints it as ``extframe: error: <message>`` and exits with the
error's ``exit_code``.

- ``ExtframeError``       base class; exit 2 (usage or environment problem)
- ``BuildError``          clang failed; ``output`` holds clang's diagnostics
- ``ObjectError``         the file is not a loadable BPF ELF object
- ``LoadError``           libbpf or the kernel refused the object (not the verifier)
- ``VerifierError``       the verifier rejected a program; exit 3; carries the
                          whole log and a short summary of it
- ``PinError``            bpffs missing, a name already pinned, a pin failed
- ``MapError``            a map lookup or update the kernel or extframe refused
- ``RunError``            BPF_PROG_TEST_RUN refused the packet or context
- ``PacketError``         a packet expression, hex string or pcap is not usable
- ``VectorError``         a test-vector file is malformed
- ``ManifestError``       an effects manifest (``ACTION.effects.toml``) is malformed
                          or declares what the source already declares
- ``LockError``           the lock file is missing or malformed
- ``OvsError``            the switch is not running, not patched, or refused a request
- ``MirrorError``         a mirror's filter, predicate or capture cannot be used
"""

from __future__ import annotations

from analyzer.verifier_log import LogSummary


class ExtframeError(Exception):
    """Base of every error extframe raises on purpose."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BuildError(ExtframeError):
    """clang could not compile an action; ``output`` is clang's own text."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class ObjectError(ExtframeError):
    """The input is not a BPF ELF object libbpf can open."""


class LoadError(ExtframeError):
    """Loading failed for a reason other than a verifier rejection."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class VerifierError(ExtframeError):
    """The kernel verifier rejected a program.

    ``log`` is the verifier log; ``summary`` its short form (the verifier's
    reason and the C source line it points at). ``log_complete`` is False
    when the level-2 log did not fit and ``log`` is the level-1 path to the
    error, or what the kernel kept of it.
    """

    exit_code = 3

    def __init__(
        self, program: str, log: str, summary: LogSummary, *, log_complete: bool = True
    ) -> None:
        where = f" at {summary.source_file}:{summary.source_line}" if summary.source_line else ""
        hint = f" ({summary.hint})" if summary.hint else ""
        super().__init__(f"verifier rejected program {program!r}{where}: {summary.reason}{hint}")
        self.program = program
        self.log = log
        self.summary = summary
        self.log_complete = log_complete


class PinError(ExtframeError):
    """Pinning into bpffs failed or would overwrite something."""


class MapError(ExtframeError):
    """A map lookup or update failed or cannot be done."""


class RunError(ExtframeError):
    """BPF_PROG_TEST_RUN refused to run the program on the given input."""


class PacketError(ExtframeError):
    """A packet given on the command line or in a vector is not usable."""


class VectorError(ExtframeError):
    """A test-vector file does not match the schema."""


class ManifestError(ExtframeError):
    """An effects manifest is malformed or conflicts with the action's source."""


class LockError(ExtframeError):
    """The lock file (``extframe.lock``) is missing or malformed."""


class OvsError(ExtframeError):
    """Open vSwitch is missing, not running, not patched, or refused a request."""


class MirrorError(ExtframeError):
    """A mirror's filter does not compile, its predicate is unusable, or its capture failed."""
