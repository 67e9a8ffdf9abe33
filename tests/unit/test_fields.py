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
