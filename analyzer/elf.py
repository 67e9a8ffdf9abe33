"""Reading BPF ELF objects into deterministic specs: programs, maps, relocations, line info.

``ObjectSpec.from_path()`` / ``from_bytes()`` turn the bytes of a clang
``-target bpf`` object into data: the same file gives the same spec on every
machine, and nothing here depends on the running kernel (STYLE.md, after
cilium/ebpf's ``CollectionSpec``). pyelftools reads the ELF header, sections,
symbols and relocations; ``analyzer.btf`` reads ``.BTF`` and ``.BTF.ext``.

Programs are laid out the way libbpf links them before loading
(``bpf_object__reloc_code()`` in tools/lib/bpf/libbpf.c), because that layout
is what the kernel verifies and what verifier log indices refer to: the
entry function first, then every function it reaches through bpf-to-bpf
calls or function addresses, each appended once, depth first, in the order
the calls are first met. Call immediates are rewritten to point into that
layout, kfunc calls get ``src = BPF_PSEUDO_KFUNC_CALL`` (their ``imm``, a
kernel BTF id, stays 0: it is only known at load time) and function address
loads get ``src = BPF_PSEUDO_FUNC``, as libbpf does. Map and global data
loads are left as clang wrote them (``r1 = 0 ll``); their ``Relocation``
says what they load.

What clang 14 emits, and how each form is resolved (checked on the fixtures
in tests/unit/data/elf/):

* a call to a static function in another section (``.text``): ``call N``
  (src 1) with ``R_BPF_64_32`` against the *section* symbol; the callee is
  slot ``st_value / 8 + imm + 1`` of that section;
* a call to a global function: the same relocation against the function's
  own symbol, with ``imm = -1``, so the same formula holds;
* a call within one section (``.text`` to ``.text``): no relocation at all,
  ``imm`` is already relative to the call;
* a kfunc call (``extern void f(void) __ksym``): ``call -1`` with src 1 (not
  2) and ``R_BPF_64_32`` against an undefined symbol;
* a function address (a ``bpf_loop`` callback): ``ld_imm64`` with src 0 (not
  ``BPF_PSEUDO_FUNC``) and ``R_BPF_64_64`` against the section symbol, the
  callee's byte offset in ``imm``;
* a map or a global variable: ``ld_imm64`` with ``R_BPF_64_64`` against the
  variable's symbol; static data without a symbol (a ``bpf_printk`` format)
  against the section symbol with the byte offset in ``imm``;
* ``.BTF`` DATASEC entries carry offset and size 0; libbpf fills them in
  from the symbol table (``btf_fixup_datasec()``), and so does this module
  where it needs them;
* ``.BTF.ext`` line records with line 0 and empty text mark code clang
  generated without a source location.

Damaged input of any kind raises ``ElfError`` naming the object; nothing
else escapes for bad bytes (tests/unit/test_elf.py mutates real objects).
"""

from __future__ import annotations

import bisect
import io
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, SymbolTableSection

from analyzer.btf import Btf, BtfExt, BtfKind, BtfType, LineInfo
from analyzer.errors import DecodeError, ElfError
from analyzer.insn import (
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    SLOT_SIZE,
    Insn,
    decode,
)

__all__ = [
    "MAP_TYPE_NAMES",
    "FunctionSpec",
    "Linkage",
    "MapSpec",
    "ObjectSpec",
    "ProgramSpec",
    "Relocation",
    "RelocationKind",
    "SourceLine",
]

# Opcodes the linker looks at (include/uapi/linux/bpf.h, bpf_common.h).
_CALL = 0x85  # BPF_JMP | BPF_CALL
_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW

_EM_BPF = "EM_BPF"  # e_machine 247
_SHF_EXECINSTR = 0x4
_SYM_SIZE = 24  # Elf64_Sym
_REL_SIZE = 16  # Elf64_Rel
_SHDR_SIZE = 64  # Elf64_Shdr

_MAPS_SECTION = ".maps"
_LICENSE_SECTION = "license"
_EFFECTS_SECTION = ".extframe.effects"  # actions/include/extframe.h, EXTFRAME_EFFECTS
_TEXT_SECTION = ".text"
# Sections libbpf turns into internal global data maps (bpf_object__elf_collect():
# ".data", ".rodata", ".bss" and their ".data.*"/".rodata.*" variants).
_DATA_SECTION_PREFIXES = (".rodata", ".data", ".bss")

# Low-level exceptions that damaged bytes raise from inside pyelftools: its
# ELFError family, construct's parse errors and struct.error for short reads,
# UnicodeDecodeError for names, and OverflowError / ValueError when a huge or
# negative offset reaches BytesIO.seek(). They become ElfError at the one
# place bytes enter (ObjectSpec.from_bytes); the rest of this module checks
# bounds itself and raises ElfError directly.
_LOW_LEVEL_ERRORS: tuple[type[Exception], ...] = (
    ELFError,
    ConstructError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    ValueError,
)

# enum bpf_map_type, include/uapi/linux/bpf.h (through Linux 6.9).
MAP_TYPE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0: "unspec",
        1: "hash",
        2: "array",
        3: "prog_array",
        4: "perf_event_array",
        5: "percpu_hash",
        6: "percpu_array",
        7: "stack_trace",
        8: "cgroup_array",
        9: "lru_hash",
        10: "lru_percpu_hash",
        11: "lpm_trie",
        12: "array_of_maps",
        13: "hash_of_maps",
        14: "devmap",
        15: "sockmap",
        16: "cpumap",
        17: "xskmap",
        18: "sockhash",
        19: "cgroup_storage",
        20: "reuseport_sockarray",
        21: "percpu_cgroup_storage",
        22: "queue",
        23: "stack",
        24: "sk_storage",
        25: "devmap_hash",
        26: "struct_ops",
        27: "ringbuf",
        28: "inode_storage",
        29: "task_storage",
        30: "bloom_filter",
        31: "user_ringbuf",
        32: "cgrp_storage",
        33: "arena",
    }
)
"""Map type number -> the name bpftool prints."""

# Integer fields of a BTF-defined map, each ``__uint(name, N)``, that is
# ``int (*name)[N]`` (tools/lib/bpf/bpf_helpers.h), read like
# parse_btf_map_def() in tools/lib/bpf/libbpf.c.
_MAP_INT_FIELDS = frozenset(
    {
        "type",
        "max_entries",
        "map_flags",
        "numa_node",
        "key_size",
        "value_size",
        "pinning",
        "map_extra",
    }
)


# --- Spec values ----------------------------------------------------------------


class RelocationKind(StrEnum):
    """What an instruction's relocation refers to."""

    MAP = "map"  # ld_imm64 of a map in .maps
    GLOBAL_DATA = "global_data"  # ld_imm64 of .rodata/.data/.bss (libbpf's internal maps)
    CALL = "call"  # bpf-to-bpf call resolved through a relocation
    FUNC_ADDR = "func_addr"  # ld_imm64 of a function's address (callbacks)
    KFUNC = "kfunc"  # call of an extern kernel function (__ksym)
    OTHER = "other"  # anything else: extern variables, unusual relocations


class Linkage(StrEnum):
    """How the kernel verifies a function: with its caller (static) or on its own (global)."""

    STATIC = "static"
    GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class SourceLine:
    """The C source line an instruction came from (BTF line info); line 0 means none."""

    file: str
    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class Relocation:
    """One relocated instruction of a program: what it loads or calls."""

    index: int  # instruction index in the linked program
    kind: RelocationKind
    symbol: str  # the ELF symbol, as llvm-objdump -r prints it (may be a section name)
    target: str  # what it resolves to: function, map, variable or extern name
    section: str  # the section holding the target; "" for an extern
    offset: int  # byte offset of the target in that section (addend included)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function of a linked program: where it came from and where it was placed."""

    name: str
    section: str
    offset: int  # bytes into its section
    start: int  # first instruction slot in the linked program
    length: int  # slots
    linkage: Linkage

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self.start <= index < self.start + self.length


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A BTF-defined map of the ``.maps`` section, as the object declares it."""

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int = 0
    pinning: int = 0  # LIBBPF_PIN_NONE 0, LIBBPF_PIN_BY_NAME 1
    numa_node: int = 0
    map_extra: int = 0
    key_type_id: int = 0  # BTF type of __type(key, T); 0 when given as key_size
    value_type_id: int = 0

    @property
    def type_name(self) -> str:
        """The map type as bpftool names it (``hash``, ``array``); ``type N`` if unknown."""
        return MAP_TYPE_NAMES.get(self.map_type, f"type {self.map_type}")


@dataclass(frozen=True, kw_only=True)
class ProgramSpec:
    """One program, linked as libbpf would load it: code, functions, relocations, lines."""

    name: str
    section: str
    offset: int  # bytes into its section; 0 for raw bytecode
    insns: tuple[Insn, ...]
    functions: tuple[FunctionSpec, ...]  # functions[0] is the entry point
    relocations: tuple[Relocation, ...] = ()
    line_info: Mapping[int, SourceLine] = field(default_factory=lambda: MappingProxyType({}))
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_line_starts", tuple(sorted(self.line_info)))

    @classmethod
    def from_bytecode(cls, data: bytes, name: str = "raw") -> ProgramSpec:
        """A spec of raw bytecode as the kernel would get it (no ELF, relocations or lines).

        Subprograms start at the targets of pseudo calls and function address
        loads, as the verifier's ``add_subprog()`` finds them; without BTF
        func info the kernel treats them all as static. Malformed bytecode
        raises ``DecodeError``.
        """
        insns = tuple(decode(data))
        count = len(data) // SLOT_SIZE
        starts = {0}
        for insn in insns:
            target = insn.jump_target() if insn.is_pseudo_call() else insn.func_ref_target()
            if target is not None and 0 <= target < count:
                starts.add(target)
        bounds = [*sorted(starts), count]
        functions = tuple(
            FunctionSpec(
                name=name if begin == 0 else f"{name}+{begin}",
                section="",
                offset=begin * SLOT_SIZE,
                start=begin,
                length=end - begin,
                linkage=Linkage.STATIC,
            )
            for begin, end in pairwise(bounds)
        )
        return cls(name=name, section="", offset=0, insns=insns, functions=functions)

    @property
    def subprograms(self) -> tuple[FunctionSpec, ...]:
        """The static functions appended after the entry point (verified with their callers)."""
        return tuple(f for f in self.functions[1:] if f.linkage == Linkage.STATIC)

    @property
    def global_functions(self) -> tuple[FunctionSpec, ...]:
        """The global functions appended after the entry point (verified on their own)."""
        return tuple(f for f in self.functions[1:] if f.linkage == Linkage.GLOBAL)

    @property
    def slot_count(self) -> int:
        """Number of 8-byte slots of the linked program (what the kernel calls insn_cnt)."""
        return sum(f.length for f in self.functions)

    def function_at(self, index: int) -> FunctionSpec | None:
        """The function holding instruction slot ``index``, or None if outside the program."""
        for function in self.functions:
            if index in function:
                return function
        return None

    def source_line(self, index: int) -> SourceLine | None:
        """The line record covering slot ``index``: the last one at or before it in its function."""
        function = self.function_at(index)
        if function is None:
            return None
        pos = bisect.bisect_right(self._line_starts, index) - 1
        if pos < 0 or self._line_starts[pos] < function.start:
            return None
        return self.line_info[self._line_starts[pos]]

    def relocation_at(self, index: int) -> Relocation | None:
        """The relocation of the instruction at slot ``index``, if it has one."""
        for relocation in self.relocations:
            if relocation.index == index:
                return relocation
        return None


@dataclass(frozen=True, kw_only=True)
class ObjectSpec:
    """Everything the analyzer reads from one BPF ELF object, as plain data."""

    name: str
    programs: tuple[ProgramSpec, ...]
    maps: tuple[MapSpec, ...]
    license: str | None
    declared_effects_text: str | None
    btf: Btf | None = field(default=None, repr=False)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ObjectSpec:
        """Read and parse the object file at ``path``; ``ElfError`` if it cannot be read."""
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ElfError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, name=os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> ObjectSpec:
        """Parse the bytes of a BPF ELF object; ``ElfError`` for anything that is not one."""
        try:
            return _parse_object(bytes(data), name)
        except ElfError as exc:
            raise ElfError(f"{name}: {exc}") from exc.__cause__
        except _LOW_LEVEL_ERRORS as exc:
            raise ElfError(f"{name}: malformed ELF object ({type(exc).__name__}: {exc})") from exc

    def program(self, name: str) -> ProgramSpec:
        """The program called ``name``; ``KeyError`` if the object has none."""
        for program in self.programs:
            if program.name == name:
                return program
        raise KeyError(name)

    def map(self, name: str) -> MapSpec:
        """The map called ``name``; ``KeyError`` if the object has none."""
        for map_spec in self.maps:
            if map_spec.name == name:
                return map_spec
        raise KeyError(name)


# --- ELF reading ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Section:
    index: int
    name: str
    sh_type: str
    flags: int
    data: bytes  # empty for SHT_NOBITS
    size: int


@dataclass(frozen=True, slots=True)
class _Symbol:
    name: str
    sym_type: str  # STT_*
    bind: str  # STB_*
    visibility: str  # STV_*
    section: int | None  # None when undefined (an extern) or special (ABS, COMMON)
    value: int
    size: int


@dataclass(frozen=True, slots=True)
class _Function:
    name: str
    section: _Section
    offset: int
    size: int
    linkage: Linkage
    is_entry: bool


class _Object:
    """The raw pieces of one ELF object that the spec is built from."""

    def __init__(self, data: bytes) -> None:
        elf = ELFFile(io.BytesIO(data))
        header = elf.header
        # libbpf bpf_object__elf_init(): a relocatable 64-bit BPF object;
        # big-endian (bpfeb) objects are refused because the decoder is LE.
        if header["e_ident"]["EI_CLASS"] != "ELFCLASS64":
            raise ElfError("not a 64-bit ELF object")
        if header["e_ident"]["EI_DATA"] != "ELFDATA2LSB":
            raise ElfError("big-endian BPF objects (bpfeb) are not supported")
        if header["e_machine"] != _EM_BPF:
            raise ElfError(f"not a BPF object (e_machine {header['e_machine']})")
        if header["e_type"] != "ET_REL":
            raise ElfError(f"not a relocatable object (e_type {header['e_type']})")
        if header["e_shentsize"] != _SHDR_SIZE:
            raise ElfError(f"section header size {header['e_shentsize']} is not {_SHDR_SIZE}")
        count = elf.num_sections()
        if count == 0:
            raise ElfError("no sections")
        if header["e_shoff"] + count * _SHDR_SIZE > len(data):
            raise ElfError("the section header table runs past the end of the file")
        self.sections: list[_Section] = []
        raw_sections: list[Section] = []
        for index in range(count):
            section = elf.get_section(index)
            sh = section.header
            size = sh["sh_size"]
            if sh["sh_type"] == "SHT_NOBITS":
                body = b""
            else:
                if sh["sh_offset"] + size > len(data):
                    raise ElfError(
                        f"section [{index}] {section.name!r} runs past the end of the file"
                    )
                body = data[sh["sh_offset"] : sh["sh_offset"] + size]
            self.sections.append(
                _Section(index, section.name, str(sh["sh_type"]), sh["sh_flags"], body, size)
            )
            raw_sections.append(section)
        self.symbols = self._read_symbols(raw_sections)
        self.relocations = self._read_relocations(raw_sections)

    def section_named(self, name: str) -> _Section | None:
        """The first section called ``name``."""
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def _read_symbols(self, raw_sections: list[Section]) -> list[_Symbol]:
        tables = [s for s in raw_sections if isinstance(s, SymbolTableSection)]
        tables = [s for s in tables if s.header["sh_type"] == "SHT_SYMTAB"]
        if len(tables) != 1:
            raise ElfError(f"expected one symbol table, found {len(tables)}")
        table = tables[0]
        if table.header["sh_entsize"] != _SYM_SIZE:
            raise ElfError(f"symbol entry size {table.header['sh_entsize']} is not {_SYM_SIZE}")
        link = table.header["sh_link"]
        if not 0 < link < len(self.sections) or self.sections[link].sh_type != "SHT_STRTAB":
            raise ElfError("the symbol table does not link to a string table")
        symbols = []
        for symbol in table.iter_symbols():
            entry = symbol.entry
            shndx = entry["st_shndx"]
            section = shndx if isinstance(shndx, int) and 0 < shndx < len(self.sections) else None
            if isinstance(shndx, int) and shndx >= len(self.sections):
                raise ElfError(f"symbol {symbol.name!r} names section {shndx}, which is missing")
            symbols.append(
                _Symbol(
                    name=symbol.name,
                    sym_type=str(entry["st_info"]["type"]),
                    bind=str(entry["st_info"]["bind"]),
                    visibility=str(entry["st_other"]["visibility"]),
                    section=section,
                    value=entry["st_value"],
                    size=entry["st_size"],
                )
            )
        return symbols

    def _read_relocations(self, raw_sections: list[Section]) -> dict[int, dict[int, _Symbol]]:
        """Relocations of code sections: section index -> byte offset -> the symbol relocated to."""
        result: dict[int, dict[int, _Symbol]] = {}
        for section in raw_sections:
            if not isinstance(section, RelocationSection):
                continue
            target_index = section.header["sh_info"]
            if not 0 < target_index < len(self.sections):
                raise ElfError(f"relocation section {section.name!r} targets no section")
            target = self.sections[target_index]
            if not target.flags & _SHF_EXECINSTR:
                continue  # debug info and BTF relocations do not concern code
            if section.is_RELA():
                # clang emits REL only, and libbpf skips RELA sections: refuse
                # rather than silently lose relocations of code.
                raise ElfError(f"{section.name!r}: RELA relocations of code are not supported")
            if section.header["sh_entsize"] != _REL_SIZE:
                raise ElfError(f"{section.name!r}: relocation entry size is not {_REL_SIZE}")
            by_offset = result.setdefault(target_index, {})
            for relocation in section.iter_relocations():
                sym_index = relocation["r_info_sym"]
                if not 0 < sym_index < len(self.symbols):
                    raise ElfError(f"{section.name!r}: relocation names symbol {sym_index}")
                offset = relocation["r_offset"]
                if offset in by_offset:
                    raise ElfError(f"{section.name!r}: two relocations at offset {offset}")
                by_offset[offset] = self.symbols[sym_index]
        return result


# --- Building the spec ----------------------------------------------------------


def _parse_object(data: bytes, name: str) -> ObjectSpec:
    if not data:
        raise ElfError("empty file")
    if data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file (bad magic)")
    obj = _Object(data)
    btf = _read_btf(obj)
    btf_ext = _read_btf_ext(obj, btf)
    functions = _functions(obj)
    maps = _maps(obj, btf)
    programs = tuple(
        _Linker(obj, functions, maps, btf_ext).link(function)
        for function in functions
        if function.is_entry
    )
    return ObjectSpec(
        name=name,
        programs=programs,
        maps=maps,
        license=_c_string(obj, _LICENSE_SECTION),
        declared_effects_text=_effects_text(obj),
        btf=btf,
    )


def _read_btf(obj: _Object) -> Btf | None:
    section = obj.section_named(".BTF")
    return None if section is None else Btf.parse(section.data)


def _read_btf_ext(obj: _Object, btf: Btf | None) -> BtfExt | None:
    section = obj.section_named(".BTF.ext")
    if section is None:
        return None
    if btf is None:
        raise ElfError(".BTF.ext without .BTF: its strings live in .BTF")
    return BtfExt.parse(section.data, btf)


def _c_string(obj: _Object, section_name: str) -> str | None:
    """The NUL-terminated text a section starts with, like libbpf's license reading."""
    section = obj.section_named(section_name)
    if section is None:
        return None
    return section.data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _effects_text(obj: _Object) -> str | None:
    section = obj.section_named(_EFFECTS_SECTION)
    if section is None:
        return None
    # Each EXTFRAME_EFFECTS() adds one NUL-terminated array to the section;
    # a second declaration is refused rather than silently ignored.
    texts = [part for part in section.data.split(b"\0") if part]
    if len(texts) > 1:
        raise ElfError(f"{_EFFECTS_SECTION} holds {len(texts)} declarations; one is allowed")
    return texts[0].decode("utf-8", errors="replace") if texts else ""


def _is_code(section: _Section) -> bool:
    return section.sh_type == "SHT_PROGBITS" and bool(section.flags & _SHF_EXECINSTR)


def _functions(obj: _Object) -> list[_Function]:
    """Every function of every code section, sorted by section and offset."""
    by_section: dict[int, list[_Symbol]] = {}
    for symbol in obj.symbols:
        if symbol.sym_type != "STT_FUNC" or symbol.section is None:
            continue
        if not _is_code(obj.sections[symbol.section]):
            raise ElfError(f"function {symbol.name!r} lies outside a code section")
        by_section.setdefault(symbol.section, []).append(symbol)
    functions: list[_Function] = []
    for index in sorted(by_section):
        section = obj.sections[index]
        if section.size % SLOT_SIZE:
            raise ElfError(f"code section {section.name!r} is not a whole number of slots")
        symbols = sorted(by_section[index], key=lambda s: (s.value, s.name))
        for pos, symbol in enumerate(symbols):
            end = symbols[pos + 1].value if pos + 1 < len(symbols) else section.size
            # A hand-written function may lack st_size: it then runs to the next one.
            size = symbol.size or end - symbol.value
            if symbol.value % SLOT_SIZE or size % SLOT_SIZE or size <= 0:
                raise ElfError(
                    f"function {symbol.name!r} at {section.name}+{symbol.value} "
                    f"({symbol.size} bytes) is not slot aligned"
                )
            if symbol.value + size > end:
                raise ElfError(f"function {symbol.name!r} overlaps the next one or its section end")
            global_bind = symbol.bind in ("STB_GLOBAL", "STB_WEAK")
            # libbpf (bpf_object__add_programs) verifies hidden global
            # functions as static: it marks them static in BTF before loading.
            hidden = symbol.visibility in ("STV_HIDDEN", "STV_INTERNAL")
            functions.append(
                _Function(
                    name=symbol.name,
                    section=section,
                    offset=symbol.value,
                    size=size,
                    linkage=Linkage.GLOBAL if global_bind and not hidden else Linkage.STATIC,
                    is_entry=global_bind and section.name != _TEXT_SECTION,
                )
            )
    return functions


# -- maps --


def _maps(obj: _Object, btf: Btf | None) -> tuple[MapSpec, ...]:
    section = obj.section_named(_MAPS_SECTION)
    if section is None:
        return ()
    if btf is None:
        raise ElfError(f"{_MAPS_SECTION} needs .BTF to describe its maps: compile with -g")
    datasec = btf.find(BtfKind.DATASEC, _MAPS_SECTION)
    if datasec is None:
        raise ElfError(f".BTF has no DATASEC for {_MAPS_SECTION}")
    offsets = {
        s.name: s.value
        for s in obj.symbols
        if s.section == section.index and s.sym_type == "STT_OBJECT"
    }
    maps = []
    for info in datasec.secinfos:
        var = btf.type_by_id(info.type_id)
        if var.kind != BtfKind.VAR:
            raise ElfError(f"{_MAPS_SECTION} DATASEC entry [{info.type_id}] is not a VAR")
        if var.name not in offsets:
            raise ElfError(f"map {var.name!r} has no symbol in {_MAPS_SECTION}")
        maps.append((offsets[var.name], _map_spec(btf, var)))
    return tuple(spec for _, spec in sorted(maps, key=lambda item: item[0]))


def _map_spec(btf: Btf, var: BtfType) -> MapSpec:
    """Decode one map definition the way parse_btf_map_def() in libbpf.c does."""
    assert var.ref_type_id is not None
    definition = btf.skip_modifiers(var.ref_type_id)
    if definition.kind != BtfKind.STRUCT:
        raise ElfError(f"map {var.name!r}: definition is a {definition.kind.name}, not a struct")
    ints: dict[str, int] = {}
    types: dict[str, int] = {}
    for member in definition.members:
        if member.name in _MAP_INT_FIELDS:
            ints[member.name] = _map_int(btf, var.name, member.name, member.type_id)
        elif member.name in ("key", "value"):
            pointer = btf.skip_modifiers(member.type_id)
            if pointer.kind != BtfKind.PTR or pointer.ref_type_id is None:
                raise ElfError(f"map {var.name!r}: {member.name} is not __type(...)")
            types[member.name] = pointer.ref_type_id
        elif member.name == "values":
            # __array(values, ...): initial inner maps or programs, not decoded.
            continue
        else:
            # libbpf 1.x refuses unknown fields too ("unknown field").
            raise ElfError(f"map {var.name!r}: unknown field {member.name!r}")
    sizes = {}
    for part in ("key", "value"):
        size = ints.get(f"{part}_size")
        if part in types:
            resolved = btf.resolve_size(types[part])
            if size is not None and size != resolved:
                raise ElfError(
                    f"map {var.name!r}: {part}_size {size} disagrees with its "
                    f"__type ({resolved} bytes)"
                )
            size = resolved
        sizes[part] = size or 0
    return MapSpec(
        name=var.name,
        map_type=ints.get("type", 0),
        key_size=sizes["key"],
        value_size=sizes["value"],
        max_entries=ints.get("max_entries", 0),
        map_flags=ints.get("map_flags", 0),
        pinning=ints.get("pinning", 0),
        numa_node=ints.get("numa_node", 0),
        map_extra=ints.get("map_extra", 0),
        key_type_id=types.get("key", 0),
        value_type_id=types.get("value", 0),
    )


def _map_int(btf: Btf, map_name: str, field_name: str, type_id: int) -> int:
    """``__uint(name, N)`` is ``int (*name)[N]``: N is the array's element count."""
    pointer = btf.skip_modifiers(type_id)
    if pointer.kind != BtfKind.PTR or pointer.ref_type_id is None:
        raise ElfError(f"map {map_name!r}: {field_name} is not __uint(...)")
    array = btf.type_by_id(pointer.ref_type_id).array
    if array is None:
        raise ElfError(f"map {map_name!r}: {field_name} does not point to an array")
    return array.nelems


# -- linking --


@dataclass(slots=True)
class _Frame:
    """A function being relocated: the next slot to look at and what is left to match."""

    function: _Function
    start: int
    relocs: dict[int, _Symbol]  # section offset -> symbol of the relocation there
    pending: set[int]
    slot: int = 0


class _Linker:
    """Lays out one program as libbpf's bpf_object__reloc_code() does, recording what it finds."""

    def __init__(
        self,
        obj: _Object,
        functions: list[_Function],
        maps: tuple[MapSpec, ...],
        btf_ext: BtfExt | None,
    ) -> None:
        self.obj = obj
        self.by_location = {(f.section.index, f.offset): f for f in functions}
        self.maps = maps
        self.map_offsets = self._map_offsets(obj, maps)
        self.btf_ext = btf_ext
        self.code = bytearray()
        self.placed: dict[tuple[int, int], int] = {}
        self.layout: list[tuple[_Function, int]] = []
        self.relocations: list[Relocation] = []
        self.frames: list[_Frame] = []

    @staticmethod
    def _map_offsets(obj: _Object, maps: tuple[MapSpec, ...]) -> dict[int, str]:
        section = obj.section_named(_MAPS_SECTION)
        names = {m.name for m in maps}
        return {
            s.value: s.name
            for s in obj.symbols
            if section is not None and s.section == section.index and s.name in names
        }

    def link(self, entry: _Function) -> ProgramSpec:
        """The linked program whose entry point is ``entry``."""
        self._place(entry)
        self._run()
        try:
            insns = tuple(decode(bytes(self.code)))
        except DecodeError as exc:
            raise ElfError(f"program {entry.name!r}: {exc}") from exc
        functions = tuple(
            FunctionSpec(
                name=function.name,
                section=function.section.name,
                offset=function.offset,
                start=start,
                length=function.size // SLOT_SIZE,
                linkage=function.linkage,
            )
            for function, start in self.layout
        )
        return ProgramSpec(
            name=entry.name,
            section=entry.section.name,
            offset=entry.offset,
            insns=insns,
            functions=functions,
            relocations=tuple(sorted(self.relocations, key=lambda r: r.index)),
            line_info=MappingProxyType(dict(sorted(self._line_info().items()))),
        )

    def _place(self, function: _Function) -> int:
        """Append ``function`` unless already placed (then queue it); return its first slot.

        libbpf recurses into a callee as soon as it appends it; the frame
        stack reproduces that depth-first order without Python recursion.
        """
        key = (function.section.index, function.offset)
        if key in self.placed:
            return self.placed[key]
        start = len(self.code) // SLOT_SIZE
        self.placed[key] = start
        self.layout.append((function, start))
        self.code += function.section.data[function.offset : function.offset + function.size]
        relocs = self.obj.relocations.get(function.section.index, {})
        pending = {o for o in relocs if function.offset <= o < function.offset + function.size}
        self.frames.append(_Frame(function, start, relocs, pending))
        return start

    def _callee(self, section: _Section, offset: int, what: str) -> _Function:
        callee = self.by_location.get((section.index, offset))
        if callee is None:
            raise ElfError(f"{what} targets {section.name}+{offset}, which starts no function")
        return callee

    def _run(self) -> None:
        """Relocate queued functions, one instruction at a time, callees first."""
        while self.frames:
            frame = self.frames[-1]
            function = frame.function
            if frame.slot >= function.size // SLOT_SIZE:
                self.frames.pop()
                if frame.pending:
                    raise ElfError(
                        f"relocation at {function.section.name}+{min(frame.pending)} "
                        "is not at an instruction"
                    )
                continue
            slot = frame.slot
            section_off = function.offset + slot * SLOT_SIZE
            index = frame.start + slot
            opcode, regs, _off, imm = struct.unpack_from("<BBhi", self.code, index * SLOT_SIZE)
            frame.slot += 2 if opcode == _LD_IMM64 else 1
            symbol = frame.relocs.get(section_off)  # the relocation's symbol, if any
            frame.pending.discard(section_off)
            where = f"{function.name}+{slot * SLOT_SIZE} in {function.section.name}"
            if opcode == _CALL and regs >> 4 == BPF_PSEUDO_CALL:
                self._relocate_call(function, index, section_off, imm, symbol, where)
            elif symbol is not None and opcode == _LD_IMM64:
                self._relocate_load(index, imm, symbol, where)
            elif symbol is not None:
                self._record(index, RelocationKind.OTHER, symbol, symbol.name)

    def _relocate_call(
        self,
        function: _Function,
        index: int,
        section_off: int,
        imm: int,
        symbol: _Symbol | None,
        where: str,
    ) -> None:
        if symbol is not None:
            if symbol.section is None:
                # A call to an undefined symbol is a kfunc (libbpf RELO_EXTERN_CALL);
                # the kernel wants src 2 and the function's BTF id, known at load.
                self._set_insn(index, src=BPF_PSEUDO_KFUNC_CALL, imm=0)
                self._record(index, RelocationKind.KFUNC, symbol, symbol.name)
                return
            # libbpf: sub_insn_idx = relo->sym_off / BPF_INSN_SZ + insn->imm + 1.
            section = self.obj.sections[symbol.section]
            target = symbol.value + (imm + 1) * SLOT_SIZE
        else:
            # No relocation: a call within the section, imm already relative.
            section = function.section
            target = section_off + (imm + 1) * SLOT_SIZE
        callee = self._callee(section, target, f"call at {where}")
        callee_start = self._place(callee)
        self._set_insn(index, imm=callee_start - index - 1)
        if symbol is not None:
            self._record(index, RelocationKind.CALL, symbol, callee.name, section.name, target)

    def _relocate_load(self, index: int, imm: int, symbol: _Symbol, where: str) -> None:
        if symbol.section is None:
            # An extern variable (__ksym, __kconfig): resolved by libbpf at load.
            self._record(index, RelocationKind.OTHER, symbol, symbol.name)
            return
        section = self.obj.sections[symbol.section]
        if _is_code(section):
            # A function address: libbpf's RELO_SUBPROG_ADDR marks it
            # BPF_PSEUDO_FUNC; the offset is (sym_off + imm) bytes.
            target = symbol.value + imm
            callee = self._callee(section, target, f"function address at {where}")
            callee_start = self._place(callee)
            self._set_insn(index, src=BPF_PSEUDO_FUNC, imm=callee_start - index - 1)
            self._record(index, RelocationKind.FUNC_ADDR, symbol, callee.name, section.name, target)
        elif section.name == _MAPS_SECTION:
            # libbpf finds the map by the symbol's offset in .maps.
            map_name = self.map_offsets.get(symbol.value)
            if map_name is None:
                raise ElfError(f"load at {where} refers to no map ({symbol.name})")
            self._record(index, RelocationKind.MAP, symbol, map_name, section.name, symbol.value)
        elif section.name.startswith(_DATA_SECTION_PREFIXES):
            kind = RelocationKind.GLOBAL_DATA
            target_name = section.name if symbol.sym_type == "STT_SECTION" else symbol.name
            self._record(index, kind, symbol, target_name, section.name, symbol.value + imm)
        else:
            self._record(
                index, RelocationKind.OTHER, symbol, symbol.name, section.name, symbol.value + imm
            )

    def _set_insn(self, index: int, *, src: int | None = None, imm: int | None = None) -> None:
        pos = index * SLOT_SIZE
        if src is not None:
            self.code[pos + 1] = (src << 4) | (self.code[pos + 1] & 0x0F)
        if imm is not None:
            struct.pack_into("<i", self.code, pos + 4, imm)

    def _record(
        self,
        index: int,
        kind: RelocationKind,
        symbol: _Symbol,
        target: str,
        section: str = "",
        offset: int = 0,
    ) -> None:
        self.relocations.append(
            Relocation(
                index=index,
                kind=kind,
                symbol=symbol.name or _section_name(self.obj, symbol),
                target=target,
                section=section,
                offset=offset,
            )
        )

    def _line_info(self) -> dict[int, SourceLine]:
        """BTF line records of every placed function, moved to their linked slots.

        libbpf does the same in reloc_prog_func_and_line_info(); insn_off is
        in bytes from the start of the record's section.
        """
        lines: dict[int, SourceLine] = {}
        if self.btf_ext is None:
            return lines
        for function, start in self.layout:
            for record in self._records_in(function):
                delta = record.insn_off - function.offset
                if delta % SLOT_SIZE:
                    raise ElfError(
                        f"line info at {record.section}+{record.insn_off} is not slot aligned"
                    )
                lines[start + delta // SLOT_SIZE] = SourceLine(
                    file=record.file, line=record.line, column=record.column, text=record.text
                )
        return lines

    def _records_in(self, function: _Function) -> Iterator[LineInfo]:
        assert self.btf_ext is not None
        end = function.offset + function.size
        for record in self.btf_ext.lines_in(function.section.name):
            if function.offset <= record.insn_off < end:
                yield record


def _section_name(obj: _Object, symbol: _Symbol) -> str:
    """The name llvm-objdump prints for a section symbol (which has none of its own)."""
    return obj.sections[symbol.section].name if symbol.section is not None else ""
