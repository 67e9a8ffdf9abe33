"""Exceptions raised by the analyzer, one flat tree.

``AnalyzerError``
    Base of every exception this package raises on bad input. Catch it to
    handle "the analyzer could not read this" without catching programming
    errors (``TypeError``, ``ValueError`` from misuse of an API).

``DecodeError(AnalyzerError)``
    Structurally damaged eBPF bytecode: a length that is not a multiple of the
    8-byte instruction slot, or a 16-byte ``ld_imm64`` whose second slot is
    missing. An instruction that is merely unknown or uses reserved fields is
    *not* an error: the decoder returns it with ``known=False`` so that the
    verdict layer can answer ``unknown``.

``ElfError(AnalyzerError)``
    An object file that cannot be read as a BPF ELF object: not ELF, not
    BPF, truncated, or with damaged sections, symbols, relocations or BTF.

``LogError(AnalyzerError)``
    Text that cannot be read as a kernel verifier log at all (as opposed to
    a log that is merely truncated, which the parser reports as incomplete).

``CfgError(AnalyzerError)``
    Control flow the verifier would refuse: a jump out of its function or
    into the middle of an instruction, a function that falls off its end.

New modules add their subclasses here so the tree stays flat and documented
in one place. Raise them with
``raise XError(...) from exc`` when wrapping a lower-level exception.
"""

from __future__ import annotations

__all__ = ["AnalyzerError", "CfgError", "DecodeError", "ElfError", "LogError"]


class AnalyzerError(Exception):
    """Base class of every error the analyzer raises for bad input."""


class DecodeError(AnalyzerError):
    """eBPF bytecode is structurally malformed (truncated slot, lone ld_imm64 half)."""


class ElfError(AnalyzerError):
    """An object file is not a readable BPF ELF object."""


class LogError(AnalyzerError):
    """Text is not a kernel verifier log."""


class CfgError(AnalyzerError):
    """The program's control flow is malformed (a jump out of its function, a fall-off)."""
