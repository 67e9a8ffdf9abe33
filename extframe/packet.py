"""Packets for actions: built from scapy expressions, hex or pcaps, and diffed by field.

A scapy expression such as ``Ether()/IP(ttl=5)/UDP()`` is evaluated by a
small interpreter over its syntax tree, not by ``eval``: only scapy layer
constructors, constants, ``/`` between layers and ``+``/``*`` on bytes are
allowed, so an expression in a test-vector file cannot run code.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from analyzer.fields import FIELDS
from extframe.errors import PacketError

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

#: pcap link type of Ethernet frames (LINKTYPE_ETHERNET).
DLT_EN10MB = 1
EXAMPLE = "Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')/IP(ttl=5)/UDP()"


@cache
def _layers() -> dict[str, Any]:
    """Every scapy layer class by name (Ether, IP, Dot1Q, IPOption_RR, …)."""
    import scapy.all as scapy_all
    from scapy.packet import Packet

    return {
        name: obj
        for name, obj in vars(scapy_all).items()
        if isinstance(obj, type) and issubclass(obj, Packet)
    }


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Div: lambda a, b: a / b,
    ast.Add: lambda a, b: a + b,
    ast.Mult: lambda a, b: a * b,
}


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        items = [_eval(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.Name):
        if node.id in _layers():
            return _layers()[node.id]
        raise PacketError(f"unknown layer {node.id!r} in packet expression")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        layer = _eval(node.func)
        args = [_eval(a) for a in node.args]
        if any(k.arg is None for k in node.keywords):
            raise PacketError("packet expression: **keywords are not allowed; name each field")
        kwargs = {k.arg: _eval(k.value) for k in node.keywords if k.arg is not None}
        return layer(*args, **kwargs)
    raise PacketError(
        f"packet expression: {type(node).__name__} is not allowed; use layers, constants and '/'"
    )


def from_expression(text: str) -> bytes:
    """Bytes of the packet a scapy expression describes."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise PacketError(f"packet expression {text!r}: {e.msg}; example: {EXAMPLE!r}") from e
    from scapy.packet import Packet

    try:
        pkt = _eval(tree)
        if not isinstance(pkt, Packet | bytes):
            raise PacketError(f"packet expression {text!r} is not a packet; example: {EXAMPLE!r}")
        return bytes(pkt)
    except PacketError:
        raise
    except MemoryError:
        raise PacketError(f"packet expression {text[:40]!r}…: too large") from None
    except Exception as e:  # scapy raises many kinds for bad field values
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PacketError(f"packet expression {text!r}: {first}") from e


def from_hex(text: str) -> bytes:
    """Bytes from hex, with optional spaces, colons and a 0x prefix."""
    cleaned = "".join(text.split()).replace(":", "").removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as e:
        raise PacketError(f"not a hex string: {text[:40]!r} ({e})") from e


def from_pcap(path: Path) -> list[bytes]:
    """Every packet of a pcap or pcapng file, as bytes."""
    from scapy.utils import RawPcapReader

    if not path.is_file():
        raise PacketError(f"{path}: no such file")
    try:
        with RawPcapReader(str(path)) as reader:
            linktype = getattr(reader, "linktype", None)
            packets = [bytes(data) for data, _meta in reader]
    except Exception as e:
        raise PacketError(f"{path}: not a readable pcap ({e})") from e
    if linktype != DLT_EN10MB:
        raise PacketError(
            f"{path}: link type {linktype}, but actions see Ethernet frames (link type "
            f"{DLT_EN10MB}); capture on an Ethernet interface"
        )
    return packets


# scapy layer → the short layer names DESIGN.md uses (eth, ip, tcp.dst, …).
LAYER_NAMES: dict[str, str] = {
    "Ether": "eth",
    "Dot1Q": "vlan",
    "Dot1AD": "vlan",
    "IP": "ip",
    "IPv6": "ipv6",
    "TCP": "tcp",
    "UDP": "udp",
    "ICMP": "icmp",
    "ARP": "arp",
    "Raw": "payload",
    "Padding": "padding",
}

# (layer, scapy field) → the field names of analyzer/fields.py, where they
# differ from "<layer>.<scapy field>". Dot1Q's PCP, DEI and VID all live in
# the TCI; ICMP's type-specific words are its "rest of header".
FIELD_NAMES: dict[tuple[str, str], str] = {
    ("vlan", "prio"): "vlan.tci",
    ("vlan", "dei"): "vlan.tci",
    ("vlan", "id"): "vlan.tci",
    ("vlan", "vlan"): "vlan.tci",
    ("ip", "flags"): "ip.frag",
    ("ip", "chksum"): "ip.csum",
    ("ipv6", "fl"): "ipv6.flow_label",
    ("ipv6", "plen"): "ipv6.payload_len",
    ("ipv6", "nh"): "ipv6.next_header",
    ("ipv6", "hlim"): "ipv6.hop_limit",
    ("tcp", "sport"): "tcp.src",
    ("tcp", "dport"): "tcp.dst",
    ("tcp", "dataofs"): "tcp.data_offset",
    ("tcp", "reserved"): "tcp.flags",
    ("tcp", "chksum"): "tcp.csum",
    ("tcp", "urgptr"): "tcp.urg",
    ("udp", "sport"): "udp.src",
    ("udp", "dport"): "udp.dst",
    ("udp", "chksum"): "udp.csum",
    ("icmp", "chksum"): "icmp.csum",
    ("payload", "load"): "payload",
}
ICMP_REST = "icmp.rest"


def field_name(layer: str, scapy_field: str) -> str:
    """The project's name for a scapy field of a layer."""
    name = FIELD_NAMES.get((layer, scapy_field), f"{layer}.{scapy_field}")
    if layer == "icmp" and name not in FIELDS:
        return ICMP_REST
    return name


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One header field whose value the action changed."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class PacketDiff:
    """How an output packet differs from its input."""

    length_before: int
    length_after: int
    changed_bytes: list[tuple[int, int]]  # inclusive offset ranges
    fields: list[FieldChange]
    layers_before: list[str]
    layers_after: list[str]

    @property
    def unchanged(self) -> bool:
        """No byte changed and the length is the same."""
        return self.length_before == self.length_after and not self.changed_bytes


def _layer_list(pkt: Any) -> list[Any]:
    out = []
    while pkt is not None and pkt.__class__.__name__ != "NoPayload":
        out.append(pkt)
        pkt = pkt.payload
    return out


def _layer_name(layer: Any) -> str:
    name: str = type(layer).__name__
    return LAYER_NAMES.get(name, name.lower())


def byte_ranges(before: bytes, after: bytes) -> list[tuple[int, int]]:
    """Inclusive ranges of offsets where two equal-length packets differ."""
    ranges: list[tuple[int, int]] = []
    for i, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            if ranges and ranges[-1][1] == i - 1:
                ranges[-1] = (ranges[-1][0], i)
            else:
                ranges.append((i, i))
    return ranges


def diff(before: bytes, after: bytes) -> PacketDiff:
    """Compare two packets byte by byte and, where the layers line up, by field."""
    from scapy.layers.l2 import Ether

    pb, pa = _layer_list(Ether(before)), _layer_list(Ether(after))
    changes: list[FieldChange] = []
    if [type(x) for x in pb] == [type(x) for x in pa]:
        for lb, la in zip(pb, pa, strict=True):
            lname = _layer_name(lb)
            for fld in lb.fields_desc:
                vb, va = lb.getfieldval(fld.name), la.getfieldval(fld.name)
                if vb != va:
                    name = field_name(lname, fld.name)
                    changes.append(FieldChange(name, _show(fld, lb, vb), _show(fld, la, va)))
    return PacketDiff(
        length_before=len(before),
        length_after=len(after),
        changed_bytes=byte_ranges(before, after) if len(before) == len(after) else [],
        fields=changes,
        layers_before=[_layer_name(x) for x in pb],
        layers_after=[_layer_name(x) for x in pa],
    )


def _show(fld: Any, pkt: Any, value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 16 else f"{value[:16].hex()}… ({len(value)} bytes)"
    try:
        shown: str = str(fld.i2repr(pkt, value))
        return shown
    except Exception:
        return repr(value)
