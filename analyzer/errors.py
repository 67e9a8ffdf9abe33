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

Further modules add their own subclasses of ``AnalyzerError`` here (for
example ``ElfError`` for unreadable objects, ``LogError`` for verifier logs)
so the tree stays flat and documented in one place. Raise them with
``raise XError(...) from exc`` when wrapping a lower-level exception.
"""

from __future__ import annotations

__all__ = ["AnalyzerError", "DecodeError"]


class AnalyzerError(Exception):
    """Base class of every error the analyzer raises for bad input."""


class DecodeError(AnalyzerError):
    """eBPF bytecode is structurally malformed (truncated slot, lone ld_imm64 half)."""
