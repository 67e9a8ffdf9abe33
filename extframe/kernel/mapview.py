"""Map keys and values as people read and write them, through the map's BTF.

The kernel keeps each map's BTF (the object's, as libbpf loaded it) with the
type ids of its key and value, and hands them out by file descriptor, so a
map pinned by another process is decoded exactly like one just loaded.

Conventions, the same for reading (``decode``) and writing (``encode``):

- integers are numbers in host order; a ``__be16``/``__be32``/``__be64``
  (by typedef name) is stored in network order, still written as a number;
  a ``__be32`` is shown as an IPv4 address and accepts one;
- ``__u8[6]`` is a MAC address (``"02:00:00:00:00:01"``), ``__u8[16]`` and
  ``struct in6_addr`` an IPv6 address; other byte arrays are ``"0x…"``;
- a struct or union is a table by member name, an array a list, an enum
  the name of its value when it has one;
- ``"0x…"`` gives the exact bytes of anything.

``encode`` fills what a table or list leaves out with zeros; ``compare``
checks only what it names, so an expected value can leave out a timestamp.
Without BTF (a map made by hand) keys and values are plain bytes.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzer.btf import Btf, BtfKind, BtfType
from analyzer.errors import AnalyzerError
from extframe.errors import MapError
from extframe.kernel import libbpf

Value = int | str | dict[str, Any] | list[Any]

_MODIFIERS = (
    BtfKind.TYPEDEF,
    BtfKind.CONST,
    BtfKind.VOLATILE,
    BtfKind.RESTRICT,
    BtfKind.TYPE_TAG,
)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _from_hex(text: str, size: int, what: str) -> bytes:
    digits = text[2:].replace("_", "").replace(" ", "")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise MapError(f"{what}: {text!r} is not hex") from None
    if len(raw) != size:
        raise MapError(f"{what}: {text!r} is {len(raw)} bytes; it needs {size}")
    return raw


@dataclass(frozen=True)
class Codec:
    """Reads and writes the bytes of one BTF type (``type_id`` 0: plain bytes)."""

    btf: Btf | None
    type_id: int
    size: int

    # ------------------------------------------------------------ decoding

    def decode(self, raw: bytes) -> Value:
        """``raw`` as numbers, addresses, tables and lists."""
        if self.btf is None or self.type_id == 0:
            return _hex(raw)
        return self._decode(self.type_id, raw, big_endian=False)

    def _resolve(self, type_id: int) -> tuple[BtfType, bool]:
        """The type behind modifiers, and whether a ``__be*`` typedef was on the way."""
        assert self.btf is not None
        t = self.btf.type_by_id(type_id)
        big = False
        while t.kind in _MODIFIERS:
            big = big or (t.kind == BtfKind.TYPEDEF and t.name.startswith("__be"))
            assert t.ref_type_id is not None
            t = self.btf.type_by_id(t.ref_type_id)
        return t, big

    def _decode(self, type_id: int, raw: bytes, big_endian: bool) -> Value:
        assert self.btf is not None
        t, big = self._resolve(type_id)
        big = big or big_endian
        if t.kind == BtfKind.INT:
            n = int.from_bytes(raw, "big" if big else "little", signed=bool(t.int_encoding & 1))
            if big and len(raw) == 4:
                return str(ipaddress.IPv4Address(n))
            return n
        if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
            n = int.from_bytes(raw, "little", signed=t.kind_flag)
            return next((e.name for e in t.enumerators if e.value == n), n)
        if t.kind == BtfKind.PTR:
            return int.from_bytes(raw, "little")
        if t.kind == BtfKind.ARRAY and t.array is not None:
            if self._is_bytes(t.array.elem_type_id):
                return self._show_bytes(raw)
            step = len(raw) // t.array.nelems if t.array.nelems else 0
            return [
                self._decode(t.array.elem_type_id, raw[i * step : (i + 1) * step], big)
                for i in range(t.array.nelems)
            ]
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
            if t.name == "in6_addr" and len(raw) == 16:
                return str(ipaddress.IPv6Address(raw))
            out: dict[str, Value] = {}
            for m in t.members:
                if m.bitfield_size:
                    word = int.from_bytes(raw, "little")
                    out[m.name] = (word >> m.bit_offset) & ((1 << m.bitfield_size) - 1)
                    continue
                lo = m.bit_offset // 8
                size = self.btf.resolve_size(m.type_id)
                out[m.name or f"@{lo}"] = self._decode(m.type_id, raw[lo : lo + size], False)
            return out
        return _hex(raw)

    def _is_bytes(self, elem_type_id: int) -> bool:
        t, _ = self._resolve(elem_type_id)
        return t.kind == BtfKind.INT and t.size == 1

    @staticmethod
    def _show_bytes(raw: bytes) -> str:
        if len(raw) == 6:
            return ":".join(f"{b:02x}" for b in raw)
        if len(raw) == 16:
            return str(ipaddress.IPv6Address(raw))
        return _hex(raw)

    # ------------------------------------------------------------ encoding

    def encode(self, value: Value, what: str) -> bytes:
        """The bytes for ``value``; members and elements left out are zero."""
        if isinstance(value, str) and value.startswith("0x"):
            return _from_hex(value, self.size, what)
        if self.btf is None or self.type_id == 0:
            if isinstance(value, int):
                return _int_bytes(value, self.size, False, what)
            raise MapError(f"{what}: the map has no BTF; give an integer or 0x… bytes")
        return self._encode(self.type_id, value, self.size, False, what)

    def _encode(self, type_id: int, value: Value, size: int, big_endian: bool, what: str) -> bytes:
        assert self.btf is not None
        if isinstance(value, str) and value.startswith("0x"):
            return _from_hex(value, size, what)
        t, big = self._resolve(type_id)
        big = big or big_endian
        if t.kind == BtfKind.INT:
            if isinstance(value, str) and size == 4:
                n = int.from_bytes(_address(value, 4, what), "big")
                return n.to_bytes(4, "big" if big else "little")
            if not isinstance(value, int) or isinstance(value, bool):
                raise MapError(f"{what}: {value!r} is not a number")
            return _int_bytes(value, size, big, what, signed=bool(t.int_encoding & 1))
        if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
            if isinstance(value, str):
                found = next((e.value for e in t.enumerators if e.name == value), None)
                if found is None:
                    names = ", ".join(e.name for e in t.enumerators)
                    raise MapError(f"{what}: {value!r} is not one of {names}")
                value = found
            if not isinstance(value, int):
                raise MapError(f"{what}: {value!r} is not a number or an enum name")
            return _int_bytes(value, size, False, what, signed=value < 0)
        if t.kind == BtfKind.ARRAY and t.array is not None:
            if isinstance(value, str) and self._is_bytes(t.array.elem_type_id):
                return _address(value, size, what)
            if not isinstance(value, list):
                raise MapError(f"{what}: give a list for this array of {t.array.nelems}")
            if len(value) > t.array.nelems:
                raise MapError(f"{what}: {len(value)} elements; the array holds {t.array.nelems}")
            step = size // t.array.nelems if t.array.nelems else 0
            parts = [
                self._encode(t.array.elem_type_id, v, step, big, f"{what}[{i}]")
                for i, v in enumerate(value)
            ]
            return b"".join(parts).ljust(size, b"\0")
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
            if isinstance(value, str) and t.name == "in6_addr":
                return _address(value, 16, what)
            if not isinstance(value, dict):
                raise MapError(f"{what}: give a table of members for struct {t.name or '(anon)'}")
            buf = bytearray(size)
            members = {m.name: m for m in t.members}
            for name, v in value.items():
                m = members.get(name)
                if m is None:
                    known = ", ".join(n for n in members if n)
                    raise MapError(f"{what}: struct {t.name} has no member {name!r} ({known})")
                if m.bitfield_size:
                    if not isinstance(v, int) or not 0 <= v < (1 << m.bitfield_size):
                        raise MapError(f"{what}.{name}: {v!r} does not fit {m.bitfield_size} bits")
                    word = int.from_bytes(buf, "little") | (v << m.bit_offset)
                    buf[:] = word.to_bytes(size, "little")
                    continue
                lo = m.bit_offset // 8
                msize = self.btf.resolve_size(m.type_id)
                buf[lo : lo + msize] = self._encode(m.type_id, v, msize, False, f"{what}.{name}")
            return bytes(buf)
        if isinstance(value, int):
            return _int_bytes(value, size, False, what)
        raise MapError(f"{what}: cannot write a {t.kind.name} from {value!r}; give 0x… bytes")

    # ------------------------------------------------------------ comparing

    def compare(self, raw: bytes, expected: Value, what: str) -> list[str]:
        """What differs between ``raw`` and ``expected``, naming only what it names.

        A table checks the members it names, a list its first elements.
        """
        if self.btf is None or not self.type_id or not isinstance(expected, dict | list):
            return self._whole(raw, expected, what)
        t, _ = self._resolve(self.type_id)
        if isinstance(expected, dict) and t.kind in (BtfKind.STRUCT, BtfKind.UNION):
            members = {m.name: m for m in t.members}
            if any(members.get(n) is None or members[n].bitfield_size for n in expected):
                return self._whole(raw, expected, what)  # encode() names the problem
            problems: list[str] = []
            for name, want in expected.items():
                m = members[name]
                lo = m.bit_offset // 8
                sub = Codec(self.btf, m.type_id, self.btf.resolve_size(m.type_id))
                problems += sub.compare(raw[lo : lo + sub.size], want, f"{what}.{name}")
            return problems
        if isinstance(expected, list) and t.array is not None and t.array.nelems:
            if len(expected) > t.array.nelems or self._is_bytes(t.array.elem_type_id):
                return self._whole(raw, expected, what)
            step = self.size // t.array.nelems
            sub = Codec(self.btf, t.array.elem_type_id, step)
            return [
                p
                for i, want in enumerate(expected)
                for p in sub.compare(raw[i * step : (i + 1) * step], want, f"{what}[{i}]")
            ]
        return self._whole(raw, expected, what)

    def _whole(self, raw: bytes, expected: Value, what: str) -> list[str]:
        wanted = self.encode(expected, what)
        if wanted == raw:
            return []
        return [f"{what}: {show(self.decode(raw))}, want {show(self.decode(wanted))}"]


def show(v: Value) -> str:
    """A decoded value on one line, in the vectors files' own notation."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {show(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    return str(v)


def _int_bytes(value: int, size: int, big: bool, what: str, signed: bool = False) -> bytes:
    try:
        return value.to_bytes(size, "big" if big else "little", signed=signed or value < 0)
    except OverflowError:
        raise MapError(f"{what}: {value} does not fit in {size} bytes") from None


def _address(text: str, size: int, what: str) -> bytes:
    """The bytes of an IPv4 (4 bytes), IPv6 (16) or MAC (6) address."""
    try:
        if size == 4:
            return ipaddress.IPv4Address(text).packed
        if size == 16:
            return ipaddress.IPv6Address(text).packed
        parts = text.split(":")
        if size == 6 and len(parts) == 6 and all(len(p) == 2 for p in parts):
            return bytes(int(p, 16) for p in parts)
    except ValueError:
        pass
    kind = {4: "an IPv4 address", 16: "an IPv6 address", 6: "a MAC address"}.get(size)
    raise MapError(f"{what}: {text!r} is not {kind or f'a value of {size} bytes'}")


# ---------------------------------------------------------------- the kernel side


class _MapInfo(ctypes.Structure):
    """``struct bpf_map_info`` (include/uapi/linux/bpf.h)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("key_size", ctypes.c_uint32),
        ("value_size", ctypes.c_uint32),
        ("max_entries", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
        ("name", ctypes.c_char * 16),
        ("ifindex", ctypes.c_uint32),
        ("btf_vmlinux_value_type_id", ctypes.c_uint32),
        ("netns_dev", ctypes.c_uint64),
        ("netns_ino", ctypes.c_uint64),
        ("btf_id", ctypes.c_uint32),
        ("btf_key_type_id", ctypes.c_uint32),
        ("btf_value_type_id", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
        ("map_extra", ctypes.c_uint64),
    ]


@dataclass(frozen=True)
class MapTypes:
    """What the kernel says about a map: its identity and the codecs of key and value."""

    name: str
    map_type: int
    id: int
    max_entries: int
    key: Codec
    value: Codec


def map_info(fd: int) -> _MapInfo:
    """The kernel's ``bpf_map_info`` of the map behind ``fd``."""
    info = _MapInfo()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    if libbpf.lib().bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(size)) < 0:
        err = ctypes.get_errno()
        raise MapError(f"cannot read the map's info: {os.strerror(err)}")
    return info


def map_types(fd: int) -> MapTypes:
    """The kernel's description of the map behind ``fd``, BTF included."""
    lib = libbpf.lib()
    info = map_info(fd)
    btf: Btf | None = None
    if info.btf_id:
        handle = lib.btf__load_from_kernel_by_id(info.btf_id)
        if handle:
            try:
                n = ctypes.c_uint32()
                data = lib.btf__raw_data(handle, ctypes.byref(n))
                btf = Btf.parse(ctypes.string_at(data, n.value)) if data else None
            except AnalyzerError:
                btf = None  # decoded as bytes: still shown, just less kindly
            finally:
                lib.btf__free(handle)
    key_id = info.btf_key_type_id if btf else 0
    value_id = info.btf_value_type_id if btf else 0
    return MapTypes(
        name=info.name.decode(errors="replace"),
        map_type=info.type,
        id=info.id,
        max_entries=info.max_entries,
        key=Codec(btf, key_id, info.key_size),
        value=Codec(btf, value_id, info.value_size),
    )


# ---------------------------------------------------------------- dumping


def dump(
    fd: int, name: str | None = None, entries: Mapping[bytes, bytes] | None = None
) -> dict[str, Any]:
    """Every entry of the map behind ``fd``, decoded, sorted; arrays skip all-zero entries.

    ``entries``, when given, are decoded instead of the kernel map's own: the
    contents of the map that the switch keeps for an in-process action, with
    the BTF types of the kernel's map it was made from (``fd``).
    """
    # Imported here: the loader imports nothing of this module's.
    from extframe.kernel.loader import LoadedMap, split_per_cpu

    t = map_types(fd)
    kind = libbpf.map_type_name(t.map_type)
    m = LoadedMap(
        name=name or t.name,
        fd=fd,
        map_type=kind,
        key_size=t.key.size,
        value_size=t.value.size,
        max_entries=t.max_entries,
        internal=False,
    )
    out: dict[str, Any] = {
        "name": m.name,
        "type": kind,
        "id": t.id,
        "max_entries": t.max_entries,
        "key_size": t.key.size,
        "value_size": t.value.size,
        "btf": t.key.btf is not None,
        "entries": [],
        "zero_entries_hidden": 0,
    }
    if "array" not in kind and "hash" not in kind and "lpm" not in kind:
        out["note"] = f"{kind} maps hold no entries to list"
        return out
    source: Mapping[bytes, bytes | list[bytes] | None]
    if entries is not None and m.per_cpu:
        source = {k: split_per_cpu(v, m.value_size) for k, v in entries.items()}
    elif entries is not None:
        source = entries
    else:
        kernel_keys = m.keys()
        read = m.lookup_per_cpu if m.per_cpu else m.lookup
        source = {k: read(k) for k in kernel_keys}
    if entries is not None and "array" in kind:
        out["zero_entries_hidden"] = t.max_entries - sum(1 for v in entries.values() if any(v))
    if m.per_cpu:
        out["note"] = "a value for each CPU the kernel may run programs on, CPU 0 first"
    for key in sorted(source, key=lambda k: k[::-1]):
        raw = source[key]
        if raw is None:
            continue
        if "array" in kind and not any(raw if isinstance(raw, bytes) else b"".join(raw)):
            out["zero_entries_hidden"] += 1
            continue
        value = [t.value.decode(v) for v in raw] if isinstance(raw, list) else t.value.decode(raw)
        out["entries"].append({"key": t.key.decode(key), "value": value})
    return out


def text_dump(d: dict[str, Any], indent: str = "") -> list[str]:
    """Lines showing one dumped map, in the vectors files' notation."""
    n = len(d["entries"])
    head = f"{indent}map {d['name']} ({d['type']}, {n} shown of max {d['max_entries']})"
    if d["zero_entries_hidden"]:
        head += f", {d['zero_entries_hidden']} all-zero entries not shown"
    lines = [head]
    if d.get("note"):
        lines.append(f"{indent}  ({d['note']})")
    for e in d["entries"]:
        lines.append(f"{indent}  {show(e['key'])}: {show(e['value'])}")
    if not n and not d.get("note"):
        lines.append(f"{indent}  (empty)")
    return lines


def split_entry(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the vectors files' notation: ``1={packets = 5, bytes = 0}``) split at
    the first ``=`` outside braces, brackets and quotes."""
    depth, quote = 0, ""
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif c == "=" and depth == 0:
            return text[:i].strip(), text[i + 1 :].strip()
    raise MapError(f"{text!r}: expected KEY=VALUE, as in 1={{packets = 5, bytes = 0}}")


def parse_value(text: str, what: str) -> Value:
    """One value in the vectors files' notation (a TOML value), for ``Codec.encode``."""
    try:
        parsed: Value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as e:
        raise MapError(f"{what}: {text!r} is not a value ({e})") from None
    return parsed
