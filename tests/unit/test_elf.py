"""Unit tests of analyzer.elf and analyzer.btf (pure: committed fixtures, no clang, no kernel).

The objects in tests/unit/data/elf/ are real clang 14 output, rebuilt by
``tests/unit/data/elf/build.sh`` (README.md there lists what each covers).
References the expectations come from:

* the C sources beside the objects (snapshots of actions/*.c and extframe.h
  included): program names, map definitions, declared effects, and the text
  of every line-info record;
* ``llvm-objdump -d -l`` (DWARF line table) captured for dec_ttl, against
  which the BTF line info is cross-checked instruction by instruction;
* libbpf's linking rules (``bpf_object__reloc_code()``): subprograms are
  appended depth first, calls point at them;
* the formats of include/uapi/linux/btf.h and tools/lib/bpf/libbpf_internal.h,
  for the hand-made BTF byte strings below.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.btf import Btf, BtfExt, BtfKind
from analyzer.elf import (
    Linkage,
    ObjectSpec,
    ProgramSpec,
    RelocationKind,
    SourceLine,
)
from analyzer.errors import AnalyzerError, DecodeError, ElfError
from analyzer.insn import BPF_PSEUDO_FUNC, encode

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "elf"
# build.sh compiles snapshots of actions/*.c and their header kept here, so
# that the objects and the sources they quote never drift apart.
ACTIONS = DATA / "actions"

# How every fixture was compiled (build.sh; README.md repeats it). The path
# flags differ per checkout and are rewritten by -fdebug-prefix-map.
CLANG_FLAGS = "-O2 -g -target bpf -mcpu=v3"
PREFIX_MAP = "-fdebug-prefix-map="
FIXTURE_SOURCES = {"features": DATA / "features.c", "extras": DATA / "extras.c"}
ACTION_NAMES = ("dec_ttl", "port_counter", "port_filter")


def fixture(name: str) -> ObjectSpec:
    return ObjectSpec.from_path(DATA / f"{name}.elf")


def source_path(btf_file: str) -> Path:
    """The checkout file a BTF file name stands for (build.sh maps the root to ".")."""
    return ROOT / os.path.normpath(btf_file)


def source_lines(path: Path) -> list[str]:
    return path.read_text().split("\n")


# --- The fixtures themselves ------------------------------------------------------


def test_build_command_is_documented_beside_the_fixtures() -> None:
    script = (DATA / "build.sh").read_text()
    readme = (DATA / "README.md").read_text()
    for text in (script, readme):
        assert CLANG_FLAGS in " ".join(text.split())
        assert PREFIX_MAP in text
        assert "-I/usr/include/x86_64-linux-gnu" in text
    for name in (*FIXTURE_SOURCES, *ACTION_NAMES):
        assert (DATA / f"{name}.elf").is_file()
        assert f"`{name}.elf`" in readme
        assert name in script
    for source in FIXTURE_SOURCES.values():
        assert source.is_file()
    for name in ACTION_NAMES:
        assert (ACTIONS / f"{name}.c").is_file()
    assert (ACTIONS / "include" / "extframe.h").is_file()


def test_fixtures_are_named_so_that_gitignore_keeps_them() -> None:
    # /tests/**/*.o is ignored; the fixtures must not end in .o.
    assert not list(DATA.glob("*.o"))
    assert "/tests/**/*.o" in (ROOT / ".gitignore").read_text()


# --- features.elf: programs, layout, relocations -------------------------------------


def test_programs_are_the_global_functions_of_code_sections() -> None:
    obj = fixture("features")
    assert [(p.name, p.section) for p in obj.programs] == [
        ("first", "tc"),
        ("second", "tc"),
        ("third", "xdp"),
    ]
    first, second, third = obj.programs
    assert first.offset == 0 and third.offset == 0
    # second starts right after first in the shared section.
    assert second.offset == first.functions[0].length * 8
    assert obj.name.endswith("features.elf")


def test_subprograms_and_global_functions_are_appended_depth_first() -> None:
    obj = fixture("features")
    first, second, third = obj.programs
    assert [f.name for f in first.subprograms] == ["mix"]
    assert first.global_functions == ()
    # second -> global_len -> mix: global_len is appended first, then what it calls.
    assert [(f.name, f.linkage) for f in second.functions] == [
        ("second", Linkage.GLOBAL),
        ("global_len", Linkage.GLOBAL),
        ("mix", Linkage.STATIC),
    ]
    assert [f.name for f in second.global_functions] == ["global_len"]
    assert [f.name for f in second.subprograms] == ["mix"]
    assert [f.name for f in third.subprograms] == ["mix"]
    for program in obj.programs:
        starts = [f.start for f in program.functions]
        assert starts[0] == 0
        assert starts == sorted(starts)
        assert program.slot_count == sum(insn.size for insn in program.insns)
        for function in program.functions:
            assert function.section in ("tc", "xdp", ".text")


@pytest.mark.parametrize("name", ["features", "extras"])
def test_every_pseudo_call_lands_on_a_function_start(name: str) -> None:
    for program in fixture(name).programs:
        starts = {f.start for f in program.functions}
        calls = [insn for insn in program.insns if insn.is_pseudo_call()]
        assert calls
        for insn in calls:
            assert insn.jump_target() in starts, (program.name, insn.index)


def test_relocations_of_maps_data_calls_and_kfuncs() -> None:
    obj = fixture("features")
    first, second, third = obj.programs
    kinds = [(r.kind, r.target, r.section) for r in first.relocations]
    assert kinds == [
        (RelocationKind.MAP, "flows", ".maps"),
        (RelocationKind.GLOBAL_DATA, "seen", ".bss"),
        (RelocationKind.GLOBAL_DATA, "threshold", ".rodata"),
        (RelocationKind.CALL, "mix", ".text"),
    ]
    for relocation in first.relocations:
        insn = next(i for i in first.insns if i.index == relocation.index)
        if relocation.kind == RelocationKind.CALL:
            # A static callee is relocated against the section symbol.
            assert relocation.symbol == ".text"
            assert insn.jump_target() == first.functions[1].start
        else:
            assert insn.is_ld_imm64() and insn.src == 0  # left as clang wrote it
    assert [(r.kind, r.target) for r in second.relocations] == [
        (RelocationKind.MAP, "slots"),
        (RelocationKind.KFUNC, "bpf_rcu_read_lock"),
        (RelocationKind.KFUNC, "bpf_rcu_read_unlock"),
        (RelocationKind.CALL, "global_len"),
    ]
    assert second.relocations[0].offset == 32  # slots follows flows in .maps
    for relocation in second.relocations[1:3]:
        insn = next(i for i in second.insns if i.index == relocation.index)
        # clang 14 writes src 1, imm -1; the spec says what the kernel sees.
        assert insn.is_kfunc_call() and not insn.is_pseudo_call()
        assert relocation.section == ""
    call = second.relocations[3]
    assert call.symbol == "global_len"  # a global callee is named by its own symbol
    assert second.relocation_at(call.index) == call
    assert second.relocation_at(0) is None
    assert [r.kind for r in third.relocations] == [RelocationKind.CALL]


def test_maps_are_decoded_from_btf() -> None:
    obj = fixture("features")
    flows, slots = obj.maps
    assert (flows.name, flows.type_name, flows.key_size, flows.value_size) == (
        "flows",
        "hash",
        4,
        16,
    )
    assert flows.max_entries == 1024
    assert (slots.name, slots.type_name, slots.key_size, slots.value_size) == (
        "slots",
        "array",
        4,
        8,
    )
    assert slots.max_entries == 4
    assert obj.btf is not None
    assert obj.btf.type_by_id(flows.value_type_id).name == "flow_stats"
    assert obj.map("slots") is slots
    with pytest.raises(KeyError):
        obj.map("nope")


def test_license_and_declared_effects() -> None:
    obj = fixture("features")
    assert obj.license == "GPL"
    assert obj.declared_effects_text == 'writes("meta.mark")'
    assert fixture("extras").declared_effects_text is None
    assert fixture("extras").license == "Dual BSD/GPL"


def test_function_linkage_agrees_with_btf() -> None:
    obj = fixture("features")
    assert obj.btf is not None
    for program in obj.programs:
        for function in program.functions:
            btf_func = obj.btf.find(BtfKind.FUNC, function.name)
            assert btf_func is not None
            # enum btf_func_linkage: static 0, global 1.
            assert btf_func.linkage == (1 if function.linkage == Linkage.GLOBAL else 0)
    ksyms = obj.btf.find(BtfKind.DATASEC, ".ksyms")
    assert ksyms is not None
    names = {obj.btf.type_by_id(info.type_id).name for info in ksyms.secinfos}
    assert names == {"bpf_rcu_read_lock", "bpf_rcu_read_unlock"}


def test_the_same_bytes_give_the_same_spec() -> None:
    data = (DATA / "features.elf").read_bytes()
    one = ObjectSpec.from_bytes(data, name="x")
    two = ObjectSpec.from_bytes(bytearray(data), name="x")
    assert one == two
    assert ObjectSpec.from_path(DATA / "features.elf").programs == one.programs


# --- extras.elf: the rarer forms -----------------------------------------------------


def test_callback_address_is_linked_as_a_pseudo_func() -> None:
    (loops,) = fixture("extras").programs
    step = next(f for f in loops.functions if f.name == "step")
    (reloc,) = [r for r in loops.relocations if r.kind == RelocationKind.FUNC_ADDR]
    insn = next(i for i in loops.insns if i.index == reloc.index)
    assert (reloc.symbol, reloc.target) == (".text", "step")
    assert insn.is_ld_imm64() and insn.src == BPF_PSEUDO_FUNC
    assert insn.func_ref_target() == step.start


def test_same_section_static_call_needs_no_relocation() -> None:
    (loops,) = fixture("extras").programs
    local = next(f for f in loops.functions if f.name == "local_in_tc")
    assert (local.section, local.linkage) == ("tc", Linkage.STATIC)
    calls = [i for i in loops.insns if i.is_pseudo_call() and i.jump_target() == local.start]
    assert len(calls) == 1
    assert loops.relocation_at(calls[0].index) is None
    assert [f.name for f in loops.subprograms] == ["step", "copy", "local_in_tc"]


def test_data_relocations_carry_their_section_offsets() -> None:
    (loops,) = fixture("extras").programs
    data = {(r.target, r.section, r.offset) for r in loops.relocations}
    assert ("counter", ".data", 0) in data
    assert ("shade", ".data", 4) in data
    assert ("last", ".bss", 4) in data
    # The bpf_printk format has no symbol: the section symbol plus the offset.
    assert (".rodata", ".rodata", 0) in data


def test_maps_by_size_and_through_qualifiers() -> None:
    sized, typed = fixture("extras").maps
    assert (sized.type_name, sized.key_size, sized.value_size, sized.max_entries) == (
        "percpu_array",
        4,
        24,
        8,
    )
    assert sized.key_type_id == 0  # given by key_size, not __type
    # key: typedef const volatile struct flags (4 bytes); value: a union.
    assert (typed.type_name, typed.key_size, typed.value_size, typed.pinning) == (
        "lru_hash",
        4,
        4,
        1,
    )


def test_btf_kinds_of_extras() -> None:
    btf = fixture("extras").btf
    assert btf is not None
    kinds = {t.kind for t in btf.types}
    assert kinds == set(BtfKind) - {BtfKind.ENUM64}  # clang 14 emits no ENUM64
    colour = btf.find(BtfKind.ENUM, "colour")
    assert colour is not None and colour.size == 4
    # clang 14 sets no signedness flag, so -3 reads back as an unsigned value.
    assert not colour.kind_flag
    assert [(e.name, e.value) for e in colour.enumerators] == [
        ("RED", 1),
        ("GREEN", 2),
        ("BLUE", 2**32 - 3),
    ]
    flags = btf.find(BtfKind.STRUCT, "flags")
    assert flags is not None and flags.kind_flag
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in flags.members] == [
        ("low", 0, 3),
        ("high", 3, 29),
    ]
    tag = next(t for t in btf.types if t.kind == BtfKind.DECL_TAG)
    assert tag.name == "extframe:tag" and tag.component_idx == -1
    assert tag.ref_type_id is not None
    assert btf.type_by_id(tag.ref_type_id).name == "tagged"
    type_tag = next(t for t in btf.types if t.kind == BtfKind.TYPE_TAG)
    assert type_tag.name == "user"
    fwd = btf.find(BtfKind.FWD, "opaque")
    assert fwd is not None and fwd.size is None and fwd.ref_type_id is None
    either = btf.find(BtfKind.UNION, "either")
    assert either is not None and btf.resolve_size(either.type_id) == 4
    assert [m.name for m in either.members] == ["word", "ratio", "bits"]
    flags_t = btf.find(BtfKind.TYPEDEF, "flags_t")
    assert flags_t is not None
    assert btf.skip_modifiers(flags_t.type_id) is flags
    assert btf.resolve_size(flags_t.type_id) == 4
    copy = btf.find(BtfKind.FUNC, "copy")
    assert copy is not None and copy.ref_type_id is not None
    proto = btf.type_by_id(copy.ref_type_id)
    assert [p.name for p in proto.params] == ["dst", "src"]
    assert btf.type_by_id(proto.params[0].type_id).kind == BtfKind.RESTRICT


# --- Line info --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["features", "extras"])
def test_line_records_quote_the_fixture_source(name: str) -> None:
    lines = source_lines(FIXTURE_SOURCES[name])
    seen = 0
    for program in fixture(name).programs:
        for index, record in program.line_info.items():
            assert os.path.normpath(record.file).endswith(f"{name}.c")
            if record.line == 0:  # compiler-generated code: no line, no text
                assert record.text == ""
                continue
            assert record.text == lines[record.line - 1], (program.name, index)
            seen += 1
        # Each function's first instruction has a record (the signature line
        # when clang has no better location for it, as for mix()).
        for function in program.functions:
            assert function.start in program.line_info
        mix = next((f for f in program.functions if f.name == "mix"), None)
        if mix is not None:
            assert program.line_info[mix.start].text == "mix(__u32 a, __u32 b)"
    assert seen > 10


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_real_actions(name: str) -> None:
    obj = fixture(name)
    source = (ACTIONS / f"{name}.c").read_text()
    assert [(p.name, p.section) for p in obj.programs] == [(name, "tc")]
    declared = re.search(r"^EXTFRAME_EFFECTS\((.*)\);$", source, re.MULTILINE)
    assert declared is not None
    assert obj.declared_effects_text == declared.group(1)
    assert obj.license == "GPL"
    (program,) = obj.programs
    assert program.functions[0].name == name
    assert all(insn.known for insn in program.insns)


@pytest.mark.parametrize(
    ("name", "maps"),
    [
        ("dec_ttl", []),
        ("port_counter", [("port_stats", "hash", 4, 16, 1024)]),
        (
            "port_filter",
            [("blocked_ports", "hash", 2, 1, 1024), ("drops", "hash", 2, 8, 1024)],
        ),
    ],
)
def test_real_action_maps(name: str, maps: list[tuple[str, str, int, int, int]]) -> None:
    obj = fixture(name)
    got = [(m.name, m.type_name, m.key_size, m.value_size, m.max_entries) for m in obj.maps]
    assert got == maps
    used = {r.target for p in obj.programs for r in p.relocations if r.kind == RelocationKind.MAP}
    assert used == {m[0] for m in maps}


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_every_instruction_of_an_action_has_a_source_line(name: str) -> None:
    (program,) = fixture(name).programs
    texts: dict[Path, list[str]] = {}
    files = set()
    for insn in program.insns:
        line = program.source_line(insn.index)
        assert line is not None, insn.index
        path = source_path(line.file)
        assert path in (ACTIONS / f"{name}.c", ACTIONS / "include" / "extframe.h"), line.file
        files.add(path.name)
        if line.line:
            lines = texts.setdefault(path, source_lines(path))
            assert line.text == lines[line.line - 1], (insn.index, line)
    assert f"{name}.c" in files


def _objdump_lines(listing: str) -> dict[int, tuple[str, int]]:
    """Instruction index -> the ``; file:line`` llvm-objdump -l last printed before it."""
    current: tuple[str, int] | None = None
    lines: dict[int, tuple[str, int]] = {}
    for text in listing.splitlines():
        marker = re.match(r"^; (.+):(\d+)$", text)
        if marker:
            current = (os.path.normpath(marker.group(1)), int(marker.group(2)))
            continue
        insn = re.match(r"^\s+(\d+):\t", text)
        if insn and current is not None:
            lines[int(insn.group(1))] = current
    return lines


def test_line_info_matches_llvm_objdump() -> None:
    """BTF line info and DWARF agree on every instruction of dec_ttl.

    llvm-objdump prints no marker for DWARF line 0, so for this comparison a
    BTF record with line 0 continues the line before it, as the listing does.
    """
    (program,) = fixture("dec_ttl").programs
    reference = _objdump_lines((DATA / "dec_ttl.objdump.txt").read_text())
    assert set(reference) == {insn.index for insn in program.insns}
    current: SourceLine | None = None
    zero_records = 0
    for insn in program.insns:
        record = program.line_info.get(insn.index)
        if record is not None and record.line == 0:
            zero_records += 1
        elif record is not None:
            current = record
        assert current is not None
        assert (os.path.normpath(current.file), current.line) == reference[insn.index], insn.index
    assert zero_records  # the case the docstring describes does occur


def test_source_line_stops_at_function_boundaries() -> None:
    second = fixture("features").program("second")
    mix = second.functions[-1]
    assert second.source_line(mix.start) == second.line_info[mix.start]
    assert second.source_line(second.slot_count) is None
    assert second.function_at(mix.start) == mix
    assert second.function_at(-1) is None


# --- Raw bytecode -------------------------------------------------------------------


def test_raw_bytecode_of_a_linked_program_finds_the_same_functions() -> None:
    second = fixture("features").program("second")
    raw = ProgramSpec.from_bytecode(encode(second.insns), name="second")
    assert raw.insns == second.insns
    assert [f.start for f in raw.functions] == [f.start for f in second.functions]
    assert [f.length for f in raw.functions] == [f.length for f in second.functions]
    assert raw.relocations == () and dict(raw.line_info) == {}
    assert raw.functions[0].name == "second"
    assert raw.source_line(0) is None


def test_raw_bytecode_without_calls_is_one_function() -> None:
    raw = ProgramSpec.from_bytecode(bytes.fromhex("b7000000000000009500000000000000"))
    assert raw.name == "raw" and len(raw.insns) == 2
    assert [(f.start, f.length) for f in raw.functions] == [(0, 2)]


def test_truncated_raw_bytecode_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        ProgramSpec.from_bytecode(b"\x95\x00\x00")


# --- Corrupt input ------------------------------------------------------------------


def _section_span(data: bytes, name: str) -> tuple[int, int]:
    section = ELFFile(io.BytesIO(data)).get_section_by_name(name)
    assert section is not None
    return section["sh_offset"], section["sh_size"]


def _patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def _damage_btf_magic(data: bytes) -> bytes:
    offset, _ = _section_span(data, ".BTF")
    return _patched(data, offset, b"\x00\x00")


def _damage_btf_kind(data: bytes) -> bytes:
    offset, _ = _section_span(data, ".BTF")
    hdr_len, type_off = struct.unpack_from("<II", data, offset + 4)
    first_type = offset + hdr_len + type_off
    (info,) = struct.unpack_from("<I", data, first_type + 4)
    return _patched(data, first_type + 4, struct.pack("<I", info & ~(0x1F << 24) | 25 << 24))


def _damage_btf_ext_record_size(data: bytes) -> bytes:
    offset, _ = _section_span(data, ".BTF.ext")
    hdr_len, _func_off, _func_len, line_off = struct.unpack_from("<IIII", data, offset + 4)
    return _patched(data, offset + hdr_len + line_off, struct.pack("<I", 3))


def _damage_btf_ext_count(data: bytes) -> bytes:
    offset, _ = _section_span(data, ".BTF.ext")
    hdr_len, _func_off, _func_len, line_off = struct.unpack_from("<IIII", data, offset + 4)
    # The first btf_ext_info_sec's num_info, after rec_size and sec_name_off.
    return _patched(data, offset + hdr_len + line_off + 8, struct.pack("<I", 0xFFFF))


def _x86_executable() -> bytes:
    path = Path("/bin/true")
    return (path if path.is_file() else Path(sys.executable)).read_bytes()


CORRUPTIONS: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("empty", lambda d: b"", "empty file"),
    ("not ELF", lambda d: random.Random(7).randbytes(4096), "not an ELF file"),
    # clang puts the section header table last: any cut loses it.
    ("header only", lambda d: d[:64], "section header table runs past"),
    ("truncated at 10%", lambda d: d[: len(d) // 10], "section header table runs past"),
    ("truncated at 90%", lambda d: d[: len(d) * 9 // 10], "section header table runs past"),
    ("host executable", lambda d: _x86_executable(), "not a BPF object"),
    ("big-endian", lambda d: _patched(d, 5, b"\x02"), "big-endian BPF objects"),
    ("BTF magic", _damage_btf_magic, ".BTF: bad magic"),
    ("BTF kind", _damage_btf_kind, "unknown kind 25"),
    ("BTF.ext record size", _damage_btf_ext_record_size, "invalid record size 3"),
    ("BTF.ext record count", _damage_btf_ext_count, "incorrect record count"),
]


@pytest.mark.parametrize(
    ("damage", "message"),
    [pytest.param(damage, message, id=case) for case, damage, message in CORRUPTIONS],
)
def test_corrupt_objects_raise_elf_error(damage: Callable[[bytes], bytes], message: str) -> None:
    data = damage((DATA / "features.elf").read_bytes())
    with pytest.raises(ElfError, match=re.escape(message)) as info:
        ObjectSpec.from_bytes(data, name="broken.o")
    assert str(info.value).startswith("broken.o: ")
    assert isinstance(info.value, AnalyzerError)


def test_missing_file_is_an_elf_error(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="cannot read"):
        ObjectSpec.from_path(tmp_path / "absent.o")


def test_damaged_bytes_keep_the_low_level_cause() -> None:
    data = (DATA / "features.elf").read_bytes()
    elf = ELFFile(io.BytesIO(data))
    index = next(i for i, sec in enumerate(elf.iter_sections()) if sec.name == ".reltc")
    sh_entsize = elf.header["e_shoff"] + index * 64 + 56  # Elf64_Shdr.sh_entsize
    with pytest.raises(ElfError, match="malformed ELF object") as info:
        ObjectSpec.from_bytes(_patched(data, sh_entsize, struct.pack("<Q", 8)))
    # pyelftools' own complaint stays attached for whoever debugs it.
    assert isinstance(info.value.__cause__, ELFError)


MUTATION_SOURCES = [(DATA / f"{name}.elf").read_bytes() for name in ("features", "extras")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(MUTATION_SOURCES) - 1),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_objects_raise_only_elf_error(
    which: int, edits: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(MUTATION_SOURCES[which])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        del data[int(cut * len(data)) :]
    try:
        spec = ObjectSpec.from_bytes(bytes(data))
    except ElfError:
        return
    assert isinstance(spec, ObjectSpec)


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from([".BTF", ".BTF.ext", ".symtab", ".reltc", "tc", ".maps"]),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6
    ),
)
def test_mutated_sections_raise_only_elf_error(which: str, edits: list[tuple[float, int]]) -> None:
    """Damage aimed at the sections the parser reads, which random offsets rarely hit."""
    data = bytearray(MUTATION_SOURCES[0])
    offset, size = _section_span(bytes(data), which)
    for where, value in edits:
        data[offset + int(where * size)] = value
    with contextlib.suppress(ElfError):
        ObjectSpec.from_bytes(bytes(data))


# --- BTF from hand-made bytes ---------------------------------------------------------


class Strings:
    """A BTF string section under construction."""

    def __init__(self) -> None:
        self.data = b"\0"

    def add(self, text: str) -> int:
        encoded = text.encode() + b"\0"
        existing = self.data.find(b"\0" + encoded)
        if text and existing >= 0:
            return existing + 1
        offset = len(self.data)
        self.data += text.encode() + b"\0"
        return offset


def btf_type(
    kind: int,
    name_off: int = 0,
    vlen: int = 0,
    size_or_type: int = 0,
    *,
    kflag: bool = False,
    trailer: bytes = b"",
) -> bytes:
    """One struct btf_type (info = kind_flag | kind | vlen) and its trailer."""
    info = int(kflag) << 31 | kind << 24 | vlen
    return struct.pack("<III", name_off, info, size_or_type) + trailer


def btf_blob(types: list[bytes], strings: bytes, **header: int) -> bytes:
    type_data = b"".join(types)
    fields = {
        "magic": 0xEB9F,
        "version": 1,
        "flags": 0,
        "hdr_len": 24,
        "type_off": 0,
        "type_len": len(type_data),
        "str_off": len(type_data),
        "str_len": len(strings),
    }
    fields.update(header)
    return struct.pack("<HBBIIIII", *fields.values()) + type_data + strings


def sample_btf() -> tuple[bytes, Strings]:
    """int, const int, int[3][4] (via typedef), ENUM64 signed and unsigned, a FUNC_PROTO."""
    s = Strings()
    types = [
        btf_type(1, s.add("int"), 0, 4, trailer=struct.pack("<I", 1 << 24 | 32)),  # [1]
        btf_type(10, 0, 0, 1),  # [2] const int
        btf_type(3, trailer=struct.pack("<III", 2, 1, 4)),  # [3] const int[4]
        btf_type(3, trailer=struct.pack("<III", 3, 1, 3)),  # [4] [3][4]
        btf_type(8, s.add("grid"), 0, 4),  # [5] typedef
        btf_type(
            19,
            s.add("big"),
            2,
            8,
            kflag=True,
            trailer=struct.pack("<III", s.add("NEG"), 0xFFFFFFFF, 0xFFFFFFFF)
            + struct.pack("<III", s.add("HUGE"), 0, 0x7FFFFFFF),
        ),  # [6] signed enum64
        btf_type(
            19, s.add("ubig"), 1, 8, trailer=struct.pack("<III", s.add("TOP"), 0, 0x80000000)
        ),  # [7] unsigned enum64
        btf_type(13, 0, 1, 1, trailer=struct.pack("<II", s.add("x"), 5)),  # [8] int (grid)
        btf_type(12, s.add("fn"), 1, 8),  # [9] global func
        btf_type(2, 0, 0, 9),  # [10] pointer to a function
        btf_type(16, s.add("double"), 0, 8),  # [11]
        btf_type(8, s.add("loop"), 0, 12),  # [12] typedef loop -> [12]
    ]
    return btf_blob(types, s.data), s


def test_hand_made_btf_with_enum64() -> None:
    data, _ = sample_btf()
    btf = Btf.parse(data)
    assert len(btf.types) == 13 and btf.types[0].kind == BtfKind.VOID
    assert btf.types[1].int_encoding == 1 and btf.types[1].int_bits == 32
    assert btf.resolve_size(5) == 4 * 3 * 4
    assert btf.resolve_size(10) == 8  # a pointer on the BPF target
    assert btf.resolve_size(11) == 8
    big = btf.types[6]
    assert [(e.name, e.value) for e in big.enumerators] == [("NEG", -1), ("HUGE", 0x7FFFFFFF << 32)]
    assert [(e.name, e.value) for e in btf.types[7].enumerators] == [("TOP", 1 << 63)]
    assert btf.types[9].linkage == 1
    assert [p.name for p in btf.types[8].params] == ["x"]
    for bad in (8, 9, 0):  # FUNC_PROTO, FUNC, void have no size
        with pytest.raises(ElfError, match="no size"):
            btf.resolve_size(bad)
    with pytest.raises(ElfError, match="deeper"):
        btf.resolve_size(12)
    with pytest.raises(ElfError, match="modifiers"):
        btf.skip_modifiers(12)
    with pytest.raises(ElfError, match="no type with id"):
        btf.type_by_id(13)


def _sample_with(**header: int) -> bytes:
    data, strings = sample_btf()
    types = data[24 : len(data) - len(strings.data)]
    return btf_blob([types], strings.data, **header)


BAD_BTF: list[tuple[str, bytes, str]] = [
    ("short", b"\x9f\xeb\x01\x00", "shorter than the 24-byte header"),
    ("magic", _sample_with(magic=0x9FEB), "bad magic"),
    ("version", _sample_with(version=2), "unsupported version"),
    ("flags", _sample_with(flags=1), "unsupported flags"),
    ("hdr_len", _sample_with(hdr_len=8), "header length"),
    ("type_len", _sample_with(type_len=10_000), "type section"),
    ("str_len", _sample_with(str_len=10_000), "string section"),
    ("misaligned", _sample_with(type_len=6), "misaligned"),
    ("no NUL", btf_blob([], b"abc"), "start and end with a NUL"),
    ("kind 0", btf_blob([btf_type(0)], b"\0"), "unknown kind 0"),
    ("kind 20", btf_blob([btf_type(20)], b"\0"), "unknown kind 20"),
    ("truncated type", btf_blob([b"\0" * 8], b"\0"), "truncated"),
    ("truncated trailer", btf_blob([btf_type(4, vlen=2)], b"\0"), "needs 24 more bytes"),
    ("name offset", btf_blob([btf_type(2, name_off=50)], b"\0"), "past the string section"),
    ("dangling ref", btf_blob([btf_type(2, size_or_type=7)], b"\0"), "refers to type id 7"),
    (
        "int bits",
        btf_blob([btf_type(1, 0, 0, 1, trailer=struct.pack("<I", 9))], b"\0"),
        "exceed",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"), [pytest.param(d, m, id=case) for case, d, m in BAD_BTF]
)
def test_damaged_btf_raises_elf_error(data: bytes, message: str) -> None:
    with pytest.raises(ElfError, match=re.escape(message)):
        Btf.parse(data)


def btf_ext_blob(
    strings: Strings,
    lines: list[tuple[int, int, int, int]],
    *,
    rec_size: int = 16,
    num_info: int | None = None,
    magic: int = 0xEB9F,
) -> bytes:
    """A .BTF.ext with no func_info and one section of line_info records."""
    section = strings.add("tc")
    body = struct.pack("<I", rec_size) + struct.pack(
        "<II", section, len(lines) if num_info is None else num_info
    )
    for record in lines:
        body += struct.pack("<IIII", *record) + b"\0" * (rec_size - 16)
    header = struct.pack("<HBBIIIII", magic, 1, 0, 24, 0, 0, 0, len(body))
    return header + body


def test_hand_made_btf_ext_line_info() -> None:
    s = Strings()
    file_off, text_off = s.add("x.c"), s.add("\treturn 0;")
    ext = btf_ext_blob(s, [(0, file_off, text_off, 12 << 10 | 5), (16, file_off, 0, 13 << 10)])
    btf = Btf.parse(btf_blob([], s.data))
    parsed = BtfExt.parse(ext, btf)
    assert parsed.func_info == ()
    first, second = parsed.line_info
    assert (first.section, first.insn_off, first.file, first.line, first.column) == (
        "tc",
        0,
        "x.c",
        12,
        5,
    )
    assert first.text == "\treturn 0;"
    assert (second.insn_off, second.line, second.column, second.text) == (16, 13, 0, "")
    assert parsed.lines_in("tc") == parsed.line_info and parsed.lines_in("xdp") == ()
    # Larger records than struct bpf_line_info are allowed (forward compatible).
    wide = BtfExt.parse(btf_ext_blob(s, [(8, file_off, text_off, 1 << 10)], rec_size=20), btf)
    assert wide.line_info[0].insn_off == 8


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda s: btf_ext_blob(s, [], magic=1), "bad magic", id="magic"),
        pytest.param(
            lambda s: btf_ext_blob(s, [(0, 0, 0, 0)], rec_size=12), "record size", id="rec"
        ),
        pytest.param(
            lambda s: btf_ext_blob(s, [(0, 0, 0, 0)], num_info=0), "record count", id="zero"
        ),
        pytest.param(
            lambda s: btf_ext_blob(s, [(0, 0, 0, 0)], num_info=9), "record count", id="many"
        ),
        pytest.param(lambda s: btf_ext_blob(s, [(0, 99, 0, 0)]), "past the string", id="file"),
        pytest.param(lambda s: btf_ext_blob(s, [(0, 0, 0, 0)])[:30], "runs past", id="truncated"),
        pytest.param(lambda s: b"\x9f\xeb", "shorter than its header", id="short"),
    ],
)
def test_damaged_btf_ext_raises_elf_error(build: Callable[[Strings], bytes], message: str) -> None:
    s = Strings()
    data = build(s)
    btf = Btf.parse(btf_blob([], s.data))
    with pytest.raises(ElfError, match=re.escape(message)):
        BtfExt.parse(data, btf)
