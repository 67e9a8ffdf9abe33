"""The oracle's reading of OVS's flow key (tests/ovs_key.py) against frames built with scapy."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether

from tests.ovs_key import flow_key


def poke(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + bytes([value]) + frame[offset + 1 :]


UDP4 = bytes(
    Ether() / IP(src="10.0.0.1", dst="10.0.0.2", ttl=9) / UDP(sport=1, dport=2) / (b"x" * 20)
)
TCP4_OPTS = bytes(Ether() / IP(options=b"\x01" * 8) / TCP(dport=22, flags="S") / b"data")


def test_key_fields_change_the_key() -> None:
    for offset in (0, 6, 22, 23, 26, 30, 34, 36):  # MACs, ttl, proto, addresses, ports
        assert flow_key(poke(UDP4, offset, UDP4[offset] ^ 0x40)) != flow_key(UDP4), offset


def test_checksums_lengths_and_payload_do_not() -> None:
    for offset in (18, 24, 38, 40, 42, 60):  # ip.id, ip.csum, udp.len, udp.csum, payload
        assert flow_key(poke(UDP4, offset, UDP4[offset] ^ 0x40)) == flow_key(UDP4), offset


def test_ip_options_move_the_tcp_header() -> None:
    dport_low = 14 + 28 + 3  # 22 is 0x0016
    assert flow_key(poke(TCP4_OPTS, dport_low, 0)) != flow_key(TCP4_OPTS)
    assert flow_key(poke(TCP4_OPTS, 14 + 28 + 16, 0)) == flow_key(TCP4_OPTS)  # tcp.csum


def test_a_vlan_tag_is_in_the_key() -> None:
    tagged = bytes(Ether() / Dot1Q(vlan=5) / IP() / UDP())
    assert flow_key(poke(tagged, 15, 6)) != flow_key(tagged)


def test_ipv6_extension_headers_are_walked() -> None:
    frame = bytes(Ether() / IPv6() / IPv6ExtHdrHopByHop() / UDP(dport=53) / b"q")
    dport_at = 14 + 40 + 8 + 2
    assert flow_key(poke(frame, dport_at, 1)) != flow_key(frame)
    assert flow_key(poke(frame, dport_at + 4, 1)) == flow_key(frame)  # udp.csum
    later = bytes(Ether() / IPv6() / IPv6ExtHdrFragment(offset=3) / (b"y" * 16))
    assert flow_key(poke(later, 14 + 48, 1)) == flow_key(later)  # data of a later fragment


def test_a_malformed_ipv4_header_has_no_l3_key() -> None:
    short = poke(UDP4, 14, 0x44)  # IHL 4
    assert flow_key(poke(short, 26, 1)) == flow_key(short)
