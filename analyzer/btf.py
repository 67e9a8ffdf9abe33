"""The analyzer's own reader of BTF (``.BTF``) and its ELF companion ``.BTF.ext``.

pyelftools reads sections but not BTF, so this module parses both formats
from bytes, structurally and strictly: every kind up to ``BTF_KIND_ENUM64``
is decoded, and anything else -- an unknown kind, a string offset past the
string section, a type id past the last type, a record that runs off its
section -- raises ``ElfError``. Nothing is skipped or guessed.

Sources of the formats:

* ``.BTF``: ``struct btf_header``, ``struct btf_type`` and the per-kind
  trailers (``btf_array``, ``btf_member``, ``btf_enum``, ``btf_param``,
  ``btf_var``, ``btf_var_secinfo``, ``btf_decl_tag``, ``btf_enum64``) in the
  kernel's include/uapi/linux/btf.h; the checks follow ``btf_parse_hdr()``,
  ``btf_parse_str_sec()`` and ``btf_check_all_metas()`` in kernel/bpf/btf.c.
* ``.BTF.ext``: ``struct btf_ext_header`` and ``struct btf_ext_info_sec`` in
  tools/lib/bpf/libbpf_internal.h, parsed the way ``btf_ext_parse_hdr()`` and
  ``btf_ext_setup_info()`` in tools/lib/bpf/btf.c do; the records are
  ``struct bpf_func_info`` and ``struct bpf_line_info`` of
  include/uapi/linux/bpf.h.

Only little-endian BTF is read: the analyzer reads ``-target bpf`` (bpfel)
objects, whose instructions are little-endian too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import IntEnum

from analyzer.errors import ElfError

__all__ = [
    "BTF_MAGIC",
    "Btf",
    "BtfArray",
    "BtfEnumerator",
    "BtfExt",
    "BtfKind",
    "BtfMember",
    "BtfParam",
    "BtfType",
    "BtfVarSecinfo",
    "FuncInfo",
    "LineInfo",
]

BTF_MAGIC = 0xEB9F
"""``BTF_MAGIC`` of include/uapi/linux/btf.h, shared by .BTF and .BTF.ext."""

_BTF_VERSION = 1
_POINTER_SIZE = 8  # bytes of a pointer on the BPF target
_MAX_RESOLVE_DEPTH = 32  # kernel/bpf/btf.c MAX_RESOLVE_DEPTH; libbpf uses the same bound

_U32 = struct.Struct("<I")
_S32 = struct.Struct("<i")
_BTF_HEADER = struct.Struct("<HBBIIIII")  # struct btf_header, 24 bytes
_BTF_TYPE = struct.Struct("<III")  # struct btf_type: name_off, info, size/type
_EXT_PREFIX = struct.Struct("<HBBI")  # struct btf_ext_header up to hdr_len
_EXT_INFO = struct.Struct("<IIII")  # func_info_off/len, line_info_off/len
_EXT_INFO_SEC = struct.Struct("<II")  # struct btf_ext_info_sec: sec_name_off, num_info
_FUNC_INFO = struct.Struct("<II")  # struct bpf_func_info: insn_off, type_id
_LINE_INFO = struct.Struct("<IIII")  # struct bpf_line_info: insn_off, file, line, line_col


class BtfKind(IntEnum):
    """``BTF_KIND_*`` of include/uapi/linux/btf.h; ``VOID`` (``BTF_KIND_UNKN``) is id 0 only."""

    VOID = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Kinds whose third btf_type word is a size in bytes, and kinds where it is a
# type id (the comment on struct btf_type in btf.h). FWD uses neither.
_SIZED_KINDS = frozenset(
    {
        BtfKind.INT,
        BtfKind.ENUM,
        BtfKind.STRUCT,
        BtfKind.UNION,
        BtfKind.DATASEC,
        BtfKind.ENUM64,
        BtfKind.FLOAT,
    }
)
_REFERRING_KINDS = frozenset(
    {
        BtfKind.PTR,
        BtfKind.TYPEDEF,
        BtfKind.VOLATILE,
        BtfKind.CONST,
        BtfKind.RESTRICT,
        BtfKind.FUNC,
        BtfKind.FUNC_PROTO,
        BtfKind.VAR,
        BtfKind.DECL_TAG,
        BtfKind.TYPE_TAG,
    }
)
# Bytes after struct btf_type: per vlen item, or fixed (btf.h, one trailer
# struct per kind; the kinds in neither table have no trailer).
_TRAILER_PER_ITEM: dict[BtfKind, int] = {
    BtfKind.STRUCT: 12,  # struct btf_member
    BtfKind.UNION: 12,
    BtfKind.ENUM: 8,  # struct btf_enum
    BtfKind.ENUM64: 12,  # struct btf_enum64
    BtfKind.FUNC_PROTO: 8,  # struct btf_param
    BtfKind.DATASEC: 12,  # struct btf_var_secinfo
}
_TRAILER_FIXED: dict[BtfKind, int] = {
    BtfKind.INT: 4,  # the u32 of BTF_INT_ENCODING / BTF_INT_OFFSET / BTF_INT_BITS
    BtfKind.ARRAY: 12,  # struct btf_array
    BtfKind.VAR: 4,  # struct btf_var
    BtfKind.DECL_TAG: 4,  # struct btf_decl_tag
}
# What libbpf's skip_mods_and_typedefs() looks through.
_MODIFIER_KINDS = frozenset(
    {BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG}
)


# --- Type records ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BtfArray:
    """The ``struct btf_array`` after an ARRAY type."""

    elem_type_id: int
    index_type_id: int
    nelems: int


@dataclass(frozen=True, slots=True)
class BtfMember:
    """One ``struct btf_member`` of a STRUCT or UNION; offsets are in bits."""

    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int  # 0 unless the type's kind_flag is set and this is a bitfield


@dataclass(frozen=True, slots=True)
class BtfEnumerator:
    """One named value of an ENUM or ENUM64."""

    name: str
    value: int


@dataclass(frozen=True, slots=True)
class BtfParam:
    """One ``struct btf_param`` of a FUNC_PROTO (an unnamed one for ``...``)."""

    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class BtfVarSecinfo:
    """One ``struct btf_var_secinfo`` of a DATASEC: a VAR (or extern FUNC) and where it lies."""

    type_id: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BtfType:
    """One BTF type: the common ``struct btf_type`` fields plus its kind's trailer.

    ``size`` is set for the sized kinds and ``ref_type_id`` for the kinds
    whose third word is a type id (for FUNC_PROTO it is the return type);
    the trailer fields are empty for kinds that have none.
    """

    type_id: int
    kind: BtfKind
    name: str
    vlen: int
    kind_flag: bool
    size: int | None = None
    ref_type_id: int | None = None
    int_encoding: int = 0  # BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL
    int_bit_offset: int = 0
    int_bits: int = 0
    array: BtfArray | None = None
    members: tuple[BtfMember, ...] = ()
    enumerators: tuple[BtfEnumerator, ...] = ()
    params: tuple[BtfParam, ...] = ()
    linkage: int = 0  # FUNC: enum btf_func_linkage (in vlen); VAR: struct btf_var
    secinfos: tuple[BtfVarSecinfo, ...] = ()
    component_idx: int = -1  # DECL_TAG: -1 for the whole declaration

    def referenced_ids(self) -> Iterator[int]:
        """Every type id this type refers to (what ``btf_type_visit_type_ids()`` visits)."""
        if self.ref_type_id is not None:
            yield self.ref_type_id
        if self.array is not None:
            yield self.array.elem_type_id
            yield self.array.index_type_id
        for member in self.members:
            yield member.type_id
        for param in self.params:
            yield param.type_id
        for info in self.secinfos:
            yield info.type_id


_VOID = BtfType(type_id=0, kind=BtfKind.VOID, name="", vlen=0, kind_flag=False)


class _Strings:
    """A BTF string section: NUL-terminated strings addressed by byte offset."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data = data
        self.where = where

    def at(self, offset: int) -> str:
        # btf_name_valid_identifier() in the kernel goes further; here the
        # offset must only land in the section with a NUL after it.
        if offset >= len(self.data):
            raise ElfError(
                f"{self.where}: string offset {offset} is past the string section "
                f"({len(self.data)} bytes)"
            )
        end = self.data.find(b"\0", offset)
        if end < 0:
            raise ElfError(f"{self.where}: string at offset {offset} is not NUL-terminated")
        return self.data[offset:end].decode("utf-8", errors="replace")


def _check_part(where: str, total: int, hdr_len: int, part: str, off: int, length: int) -> None:
    """Raise unless ``length`` bytes at ``off`` past the header fit in ``total`` bytes."""
    if hdr_len + off + length > total:
        raise ElfError(
            f"{where}: {part} (offset {off}, {length} bytes after the {hdr_len}-byte "
            f"header) runs past the end of the section ({total} bytes)"
        )


# --- .BTF -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Btf:
    """A parsed ``.BTF`` section: ``types[i]`` is type id ``i`` (``types[0]`` is void)."""

    types: tuple[BtfType, ...]
    strings: bytes

    @classmethod
    def parse(cls, data: bytes) -> Btf:
        """Parse the bytes of a ``.BTF`` section; raise ``ElfError`` if they are damaged."""
        data = bytes(data)
        if len(data) < _BTF_HEADER.size:
            raise ElfError(f".BTF: {len(data)} bytes is shorter than the 24-byte header")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = (
            _BTF_HEADER.unpack_from(data)
        )
        if magic != BTF_MAGIC:
            raise ElfError(f".BTF: bad magic {magic:#06x} (want {BTF_MAGIC:#06x}, little-endian)")
        if version != _BTF_VERSION:
            raise ElfError(f".BTF: unsupported version {version}")
        if flags:
            raise ElfError(f".BTF: unsupported flags {flags:#x}")
        if hdr_len < _BTF_HEADER.size or hdr_len > len(data):
            raise ElfError(f".BTF: header length {hdr_len} is invalid for {len(data)} bytes")
        # kernel/bpf/btf.c btf_check_sec_info(): both parts inside the data,
        # the type section 4-byte aligned.
        _check_part(".BTF", len(data), hdr_len, "type section", type_off, type_len)
        _check_part(".BTF", len(data), hdr_len, "string section", str_off, str_len)
        if type_off % 4 or type_len % 4:
            raise ElfError(
                f".BTF: type section (offset {type_off}, {type_len} bytes) is misaligned"
            )
        strings_data = data[hdr_len + str_off : hdr_len + str_off + str_len]
        # btf_parse_str_sec(): the string section starts and ends with NUL.
        if not strings_data or strings_data[0] != 0 or strings_data[-1] != 0:
            raise ElfError(".BTF: string section must start and end with a NUL byte")
        strings = _Strings(strings_data, ".BTF")
        type_data = data[hdr_len + type_off : hdr_len + type_off + type_len]
        types = _parse_types(type_data, strings)
        count = len(types)
        for btf_type in types:
            for ref in btf_type.referenced_ids():
                if ref >= count:
                    raise ElfError(
                        f".BTF: type [{btf_type.type_id}] {btf_type.kind.name} refers to "
                        f"type id {ref}, past the last type ({count - 1})"
                    )
        return cls(types=types, strings=strings_data)

    def string_at(self, offset: int) -> str:
        """The NUL-terminated string at ``offset`` of the string section."""
        return _Strings(self.strings, ".BTF").at(offset)

    def type_by_id(self, type_id: int) -> BtfType:
        """The type with id ``type_id``; ``ElfError`` if there is none."""
        if not 0 <= type_id < len(self.types):
            raise ElfError(f".BTF: no type with id {type_id} (last is {len(self.types) - 1})")
        return self.types[type_id]

    def skip_modifiers(self, type_id: int) -> BtfType:
        """The type behind typedef/const/volatile/restrict/type_tag (``skip_mods_and_typedefs``)."""
        btf_type = self.type_by_id(type_id)
        for _ in range(_MAX_RESOLVE_DEPTH):
            if btf_type.kind not in _MODIFIER_KINDS:
                return btf_type
            assert btf_type.ref_type_id is not None  # set for every referring kind
            btf_type = self.type_by_id(btf_type.ref_type_id)
        raise ElfError(f".BTF: type [{type_id}] has more than {_MAX_RESOLVE_DEPTH} modifiers")

    def resolve_size(self, type_id: int) -> int:
        """Size in bytes of a type, through modifiers and arrays (libbpf ``btf__resolve_size``)."""
        nelems = 1
        current = type_id
        for _ in range(_MAX_RESOLVE_DEPTH):
            btf_type = self.type_by_id(current)
            if btf_type.size is not None:
                size = btf_type.size
                break
            if btf_type.kind == BtfKind.PTR:
                size = _POINTER_SIZE
                break
            if btf_type.array is not None:
                nelems *= btf_type.array.nelems
                current = btf_type.array.elem_type_id
                continue
            if btf_type.kind in _MODIFIER_KINDS or btf_type.kind in (
                BtfKind.VAR,
                BtfKind.DECL_TAG,
            ):
                assert btf_type.ref_type_id is not None
                current = btf_type.ref_type_id
                continue
            raise ElfError(
                f".BTF: type [{type_id}] has no size: it leads to a {btf_type.kind.name}"
            )
        else:
            raise ElfError(f".BTF: type [{type_id}] nests deeper than {_MAX_RESOLVE_DEPTH}")
        total = nelems * size
        if total > 0xFFFF_FFFF:
            raise ElfError(f".BTF: type [{type_id}] is {total} bytes, more than 4 GiB")
        return total

    def find(self, kind: BtfKind, name: str) -> BtfType | None:
        """The first type of ``kind`` called ``name``, or None."""
        for btf_type in self.types:
            if btf_type.kind == kind and btf_type.name == name:
                return btf_type
        return None


def _parse_types(data: bytes, strings: _Strings) -> tuple[BtfType, ...]:
    types: list[BtfType] = [_VOID]
    pos = 0
    while pos < len(data):
        type_id = len(types)
        if pos + _BTF_TYPE.size > len(data):
            raise ElfError(f".BTF: type [{type_id}] is truncated at type section offset {pos}")
        name_off, info, size_or_type = _BTF_TYPE.unpack_from(data, pos)
        pos += _BTF_TYPE.size
        kind_value = (info >> 24) & 0x1F  # BTF_INFO_KIND
        vlen = info & 0xFFFF  # BTF_INFO_VLEN
        kind_flag = bool(info >> 31)  # BTF_INFO_KFLAG
        # Kind 0 (BTF_KIND_UNKN) is only ever type id 0, never in the section.
        if not BtfKind.INT <= kind_value <= BtfKind.ENUM64:
            raise ElfError(f".BTF: type [{type_id}] has unknown kind {kind_value}")
        kind = BtfKind(kind_value)
        trailer = _trailer_size(kind, vlen)
        if pos + trailer > len(data):
            raise ElfError(
                f".BTF: type [{type_id}] {kind.name} needs {trailer} more bytes than the "
                "type section holds"
            )
        types.append(
            _parse_one(
                type_id,
                kind,
                strings.at(name_off),
                vlen,
                kind_flag,
                size_or_type,
                data[pos : pos + trailer],
                strings,
            )
        )
        pos += trailer
    return tuple(types)


def _trailer_size(kind: BtfKind, vlen: int) -> int:
    """Bytes that follow ``struct btf_type`` for ``kind`` (btf_type_size() in libbpf btf.c)."""
    if kind in _TRAILER_PER_ITEM:
        return _TRAILER_PER_ITEM[kind] * vlen
    return _TRAILER_FIXED.get(kind, 0)


def _parse_one(
    type_id: int,
    kind: BtfKind,
    name: str,
    vlen: int,
    kind_flag: bool,
    size_or_type: int,
    trailer: bytes,
    strings: _Strings,
) -> BtfType:
    base = BtfType(
        type_id=type_id,
        kind=kind,
        name=name,
        vlen=vlen,
        kind_flag=kind_flag,
        size=size_or_type if kind in _SIZED_KINDS else None,
        ref_type_id=size_or_type if kind in _REFERRING_KINDS else None,
    )
    if kind == BtfKind.INT:
        (word,) = _U32.unpack(trailer)
        bits = word & 0xFF  # BTF_INT_BITS
        bit_offset = (word >> 16) & 0xFF  # BTF_INT_OFFSET
        if bits + bit_offset > size_or_type * 8:
            raise ElfError(
                f".BTF: type [{type_id}] INT: {bits} bits at offset {bit_offset} "
                f"exceed its {size_or_type} bytes"
            )
        encoding = (word >> 24) & 0x0F  # BTF_INT_ENCODING
        return replace(base, int_encoding=encoding, int_bit_offset=bit_offset, int_bits=bits)
    if kind == BtfKind.ARRAY:
        return replace(base, array=BtfArray(*struct.unpack("<III", trailer)))
    if kind in (BtfKind.STRUCT, BtfKind.UNION):
        # With kind_flag the offset word packs the bitfield size and the bit
        # offset (BTF_MEMBER_BITFIELD_SIZE / BTF_MEMBER_BIT_OFFSET).
        members = tuple(
            BtfMember(
                name=strings.at(name_off),
                type_id=member_type,
                bit_offset=offset & 0xFFFFFF if kind_flag else offset,
                bitfield_size=offset >> 24 if kind_flag else 0,
            )
            for name_off, member_type, offset in struct.iter_unpack("<III", trailer)
        )
        return replace(base, members=members)
    if kind == BtfKind.ENUM:
        # kind_flag set means signed values (Documentation/bpf/btf.rst, BTF_KIND_ENUM).
        fmt = "<Ii" if kind_flag else "<II"
        values = tuple(
            BtfEnumerator(strings.at(name_off), value)
            for name_off, value in struct.iter_unpack(fmt, trailer)
        )
        return replace(base, enumerators=values)
    if kind == BtfKind.ENUM64:
        values64 = []
        for name_off, lo, hi in struct.iter_unpack("<III", trailer):
            value = hi << 32 | lo
            if kind_flag and value >= 1 << 63:
                value -= 1 << 64
            values64.append(BtfEnumerator(strings.at(name_off), value))
        return replace(base, enumerators=tuple(values64))
    if kind == BtfKind.FUNC_PROTO:
        params = tuple(
            BtfParam(strings.at(name_off), param_type)
            for name_off, param_type in struct.iter_unpack("<II", trailer)
        )
        return replace(base, params=params)
    if kind == BtfKind.FUNC:
        # enum btf_func_linkage lives in vlen: static 0, global 1, extern 2.
        return replace(base, linkage=vlen)
    if kind == BtfKind.VAR:
        (linkage,) = _U32.unpack(trailer)  # struct btf_var
        return replace(base, linkage=linkage)
    if kind == BtfKind.DATASEC:
        infos = tuple(BtfVarSecinfo(*item) for item in struct.iter_unpack("<III", trailer))
        return replace(base, secinfos=infos)
    if kind == BtfKind.DECL_TAG:
        (component,) = _S32.unpack(trailer)  # struct btf_decl_tag
        return replace(base, component_idx=component)
    # PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FLOAT, TYPE_TAG: no trailer.
    return base


# --- .BTF.ext -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """A ``bpf_func_info`` record: the function starting at ``insn_off`` bytes into ``section``."""

    section: str
    insn_off: int  # bytes in an ELF object (the kernel's bpf_attr wants instructions)
    type_id: int  # a BTF FUNC


@dataclass(frozen=True, slots=True)
class LineInfo:
    """A ``bpf_line_info`` record: the source line of the code from ``insn_off`` bytes on."""

    section: str
    insn_off: int  # bytes in an ELF object (the kernel's bpf_attr wants instructions)
    file: str
    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class BtfExt:
    """A parsed ``.BTF.ext`` section: func and line info records, in file order."""

    func_info: tuple[FuncInfo, ...]
    line_info: tuple[LineInfo, ...]

    @classmethod
    def parse(cls, data: bytes, btf: Btf) -> BtfExt:
        """Parse a ``.BTF.ext`` section whose strings live in ``btf``; ``ElfError`` if damaged."""
        data = bytes(data)
        # btf_ext_parse_hdr(): the fixed prefix, then hdr_len bytes in all.
        if len(data) < _EXT_PREFIX.size:
            raise ElfError(f".BTF.ext: {len(data)} bytes is shorter than its header")
        magic, version, flags, hdr_len = _EXT_PREFIX.unpack_from(data)
        if magic != BTF_MAGIC:
            raise ElfError(
                f".BTF.ext: bad magic {magic:#06x} (want {BTF_MAGIC:#06x}, little-endian)"
            )
        if version != _BTF_VERSION:
            raise ElfError(f".BTF.ext: unsupported version {version}")
        if flags:
            raise ElfError(f".BTF.ext: unsupported flags {flags:#x}")
        # libbpf btf_ext__new(): the header must reach line_info_len; the
        # core_relo fields that may follow are optional and not read here.
        if hdr_len < _EXT_PREFIX.size + _EXT_INFO.size or hdr_len > len(data):
            raise ElfError(f".BTF.ext: header length {hdr_len} is invalid for {len(data)} bytes")
        func_off, func_len, line_off, line_len = _EXT_INFO.unpack_from(data, _EXT_PREFIX.size)
        strings = _Strings(btf.strings, ".BTF.ext (strings of .BTF)")
        func_info = [
            FuncInfo(section, insn_off, type_id)
            for section, (insn_off, type_id) in _info_records(
                data, hdr_len, func_off, func_len, _FUNC_INFO, "func_info", strings
            )
        ]
        for record in func_info:
            if record.type_id >= len(btf.types) or btf.types[record.type_id].kind != BtfKind.FUNC:
                raise ElfError(
                    f".BTF.ext: func_info at {record.section}+{record.insn_off} names type id "
                    f"{record.type_id}, which is not a BTF FUNC"
                )
        line_info = [
            LineInfo(
                section=section,
                insn_off=insn_off,
                file=strings.at(file_off),
                line=line_col >> 10,  # BPF_LINE_INFO_LINE_NUM() in include/linux/bpf.h
                column=line_col & 0x3FF,  # BPF_LINE_INFO_LINE_COL()
                text=strings.at(text_off),
            )
            for section, (insn_off, file_off, text_off, line_col) in _info_records(
                data, hdr_len, line_off, line_len, _LINE_INFO, "line_info", strings
            )
        ]
        return cls(func_info=tuple(func_info), line_info=tuple(line_info))

    def lines_in(self, section: str) -> tuple[LineInfo, ...]:
        """The line records of one ELF section, in file order (ascending ``insn_off``)."""
        return tuple(record for record in self.line_info if record.section == section)


def _info_records(
    data: bytes,
    hdr_len: int,
    off: int,
    length: int,
    record: struct.Struct,
    desc: str,
    strings: _Strings,
) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Yield (section name, leading fields) per record, walking as btf_ext_setup_info() does."""
    if length == 0:
        return
    where = f".BTF.ext {desc}"
    if off % 4:
        raise ElfError(f"{where}: offset {off} is not aligned to 4 bytes")
    _check_part(".BTF.ext", len(data), hdr_len, desc, off, length)
    pos = hdr_len + off
    end = pos + length
    if length < _U32.size:
        raise ElfError(f"{where}: record size not found")
    (record_size,) = _U32.unpack_from(data, pos)
    # A record may be larger than the fields known here (forward compatible),
    # never smaller, and always a multiple of 4.
    if record_size < record.size or record_size % 4:
        raise ElfError(f"{where}: invalid record size {record_size}")
    pos += _U32.size
    if pos == end:
        raise ElfError(f"{where}: no records")
    while pos < end:
        if end - pos < _EXT_INFO_SEC.size:
            raise ElfError(f"{where}: section header truncated")
        sec_name_off, num_info = _EXT_INFO_SEC.unpack_from(data, pos)
        pos += _EXT_INFO_SEC.size
        if num_info == 0 or num_info * record_size > end - pos:
            raise ElfError(f"{where}: section has an incorrect record count {num_info}")
        section = strings.at(sec_name_off)
        for _ in range(num_info):
            yield section, record.unpack_from(data, pos)
            pos += record_size
