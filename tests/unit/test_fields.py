"""One table of field names (analyzer/fields.py), and everything else agrees with it."""

from __future__ import annotations

import re

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from analyzer.fields import ALL_NAMES, FIELDS, fields_in_span
from extframe.manifest import DECLARABLE
from extframe.packet import FIELD_NAMES, LAYER_NAMES, field_name
from tests.conftest import ACTIONS


def test_header_grammar_lists_exactly_the_table() -> None:
    header = (ACTIONS / "include" / "extframe.h").read_text()
    grammar = header[header.index("name    :=") : header.index("The names and the byte layout")]
    assert set(re.findall(r'"([a-z0-9_.]+)"', grammar)) == set(ALL_NAMES)


def test_declarations_use_the_table() -> None:
    assert DECLARABLE == ALL_NAMES


def test_diff_names_are_in_the_table() -> None:
    assert set(FIELD_NAMES.values()) <= ALL_NAMES


@pytest.mark.parametrize("layer", [Ether, Dot1Q, IP, IPv6, TCP, UDP, ICMP])
def test_every_scapy_field_of_the_headers_maps_into_the_table(layer: type) -> None:
    short = LAYER_NAMES[layer.__name__]
    names = {field_name(short, f.name) for f in layer.fields_desc}
    assert names <= ALL_NAMES, names - ALL_NAMES


@pytest.mark.parametrize(
    ("name", "offset", "size"),
    [
        ("eth.type", 12, 2),
        ("ip.ttl", 8, 1),
        ("ip.csum", 10, 2),
        ("ipv6.hop_limit", 7, 1),
        ("tcp.dst", 2, 2),
        ("udp.csum", 6, 2),
        ("icmp.csum", 2, 2),
        ("ip.options", 20, None),
    ],
)
def test_layouts(name: str, offset: int, size: int | None) -> None:
    f = FIELDS[name]
    assert (f.offset, f.size) == (offset, size)


@pytest.mark.parametrize(
    ("lo", "hi", "name"),
    [
        (36, 37, "tcp.dst"),  # IPv4, untagged
        (56, 57, "tcp.dst"),  # IPv6, untagged
        (64, 65, "udp.csum"),  # IPv6 behind one tag
        (54, 54, "icmp.type"),  # ICMPv6, untagged
    ],
)
def test_spans_without_a_position_name_every_layouts_fields(lo: int, hi: int, name: str) -> None:
    assert name in fields_in_span(lo, hi)


@pytest.mark.parametrize(
    ("name", "offset", "bits"),
    [
        ("ipv6.version", 0, 0xF0),
        ("ipv6.tc", 0, 0x0F),
        ("ipv6.tc", 1, 0xF0),
        ("ipv6.flow_label", 1, 0x0F),
        ("ipv6.flow_label", 3, 0xFF),
        ("ipv6.flow_label", 4, 0),
        ("ip.ihl", 0, 0x0F),
        ("ip.tos", 1, 0xFF),
        ("ip.tos", 2, 0),
        ("tcp.data_offset", 12, 0xF0),
        ("tcp.flags", 12, 0x0F),
        ("tcp.flags", 13, 0xFF),
    ],
)
def test_fields_sharing_a_byte_have_its_bits(name: str, offset: int, bits: int) -> None:
    assert FIELDS[name].bits_of_byte(offset) == bits


def test_fields_sharing_a_byte_split_all_its_bits() -> None:
    """Every bit of a header's fixed part is in exactly one field."""
    for header, length in (("ip", 20), ("ipv6", 40), ("tcp", 20), ("udp", 8)):
        fields = [f for f in FIELDS.values() if f.header == header and f.size is not None]
        for offset in range(length):
            masks = [f.bits_of_byte(offset) for f in fields]
            assert sum(masks) == 0xFF and not any(
                a & b for i, a in enumerate(masks) for b in masks[i + 1 :]
            ), (header, offset, masks)
