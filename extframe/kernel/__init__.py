"""What talks to the kernel: libbpf, raw ``bpf()``, loading, pins, test runs, maps.

The rest of extframe imports this surface, never the modules' insides:

- loading through the verifier: ``load_object``, ``read_object``, ``check_elf``,
  ``LoadOptions``, ``LoadedObject``, ``LoadedProgram``, ``LoadedMap``,
  ``program_identity``, ``PROG_TYPES``; the whole level-2 log of one raw
  ``BPF_PROG_LOAD``: ``prog_load_whole_log``, ``RawLoadOptions``;
- pins in bpffs: the ``bpffs`` module (``pin``, ``unpin``, ``open_pinned``,
  ``open_pinned_map``, folders extframe owns);
- running a program on a packet: ``run``, ``RunInput`` (``BPF_PROG_TEST_RUN``);
- maps decoded through their BTF: the ``mapview`` module;
- a ring buffer's records: ``RingReader``.

``libbpf`` (the ctypes binding) and ``bpf_syscall`` stay inside this package.
"""

from __future__ import annotations

from extframe.kernel import bpffs, mapview
from extframe.kernel.bpf_syscall import RawLoadOptions, prog_load_whole_log
from extframe.kernel.loader import (
    PROG_TYPES,
    LoadedMap,
    LoadedObject,
    LoadedProgram,
    LoadOptions,
    check_elf,
    load_object,
    per_cpu_room,
    program_identity,
    read_object,
)
from extframe.kernel.ringbuf import RingReader
from extframe.kernel.testrun import RunInput, run

__all__ = [
    "PROG_TYPES",
    "LoadOptions",
    "LoadedMap",
    "LoadedObject",
    "LoadedProgram",
    "RawLoadOptions",
    "RingReader",
    "RunInput",
    "bpffs",
    "check_elf",
    "load_object",
    "mapview",
    "per_cpu_room",
    "prog_load_whole_log",
    "program_identity",
    "read_object",
    "run",
]
