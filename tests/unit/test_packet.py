"""Packet expressions (a safe interpreter, not eval) and field-level diffs."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from extframe.errors import PacketError
from extframe.packet import byte_ranges, diff, from_expression, from_hex

BASE = (
    "Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')"
    "/IP(src='10.0.0.1', dst='10.0.0.2'{})/UDP(sport=1, dport=2)"
)


def test_expression_matches_scapy() -> None:
    want = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2", ttl=5)
        / UDP(sport=1, dport=2)
    )
    assert from_expression(BASE.format(", ttl=5")) == bytes(want)


def test_bytes_arithmetic_and_raw() -> None:
    pkt = from_expression("Ether()/Raw(b'ab' * 3 + b'c')")
    assert pkt.endswith(b"abababc")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os').system('true')", "not allowed|unknown layer"),
        ("open('/etc/passwd')", "unknown layer 'open'"),
        ("Ether().__class__", "Attribute is not allowed"),
        ("[x for x in ()]", "not allowed"),
        ("Ether(", "never closed"),
        ("5", "is not a packet"),
        ("lambda: 1", "not allowed"),
        ("IP(ttl='many')", "packet expression"),
    ],
)
def test_unsafe_or_bad_expressions_are_refused(expr: str, message: str) -> None:
    with pytest.raises(PacketError, match=message):
        from_expression(expr)


@pytest.mark.parametrize(
    ("text", "want"),
    [("0a0b", b"\n\x0b"), ("0x0a 0b", b"\n\x0b"), ("0a:0b", b"\n\x0b")],
)
def test_hex_forms(text: str, want: bytes) -> None:
    assert from_hex(text) == want


def test_bad_hex() -> None:
    with pytest.raises(PacketError, match="not a hex string"):
        from_hex("xyz")


def test_diff_names_fields_like_the_analyzer() -> None:
    a = from_expression(BASE.format(", ttl=5"))
    b = from_expression(BASE.format(", ttl=4"))
    d = diff(a, b)
    assert [c.field for c in d.fields] == ["ip.ttl", "ip.csum"]
    assert (d.fields[0].before, d.fields[0].after) == ("5", "4")
    assert d.changed_bytes == [(22, 22), (24, 24)]  # ttl; the csum high byte
    assert not d.unchanged


def test_diff_of_port_rewrite_uses_short_names() -> None:
    a = from_expression("Ether()/IP()/UDP(sport=1, dport=2)")
    b = from_expression("Ether()/IP()/UDP(sport=1, dport=3)")
    assert [c.field for c in diff(a, b).fields] == ["udp.dst", "udp.csum"]


def test_diff_of_length_change_reports_layers() -> None:
    a = from_expression("Ether()/IP()/UDP()")
    b = from_expression("Ether()/Dot1Q(vlan=5)/IP()/UDP()")
    d = diff(a, b)
    assert (d.length_before, d.length_after) == (len(a), len(a) + 4)
    assert d.layers_after[:2] == ["eth", "vlan"]
    assert not d.unchanged


def test_identical_packets() -> None:
    a = from_expression("Ether()/IP()")
    assert diff(a, a).unchanged


def test_byte_ranges() -> None:
    assert byte_ranges(b"abcdef", b"aXcXXf") == [(1, 1), (3, 4)]
