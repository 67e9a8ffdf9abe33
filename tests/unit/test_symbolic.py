"""Symbolic header positions and the fields a write hits (analyzer/symbolic.py).

Each naming test is a soundness case as much as a precision one: a write
that may reach a flow-key byte must say ``flow_key``, whatever the frame.
The layouts follow OVS 3.1's miniflow_extract() (lib/flow.c).
"""

from __future__ import annotations

from analyzer.symbolic import (
    Anchor,
    Bits,
    Facts,
    Lin,
    add,
    anchor,
    byte,
    const,
    contradictory,
    disjoint_or,
    forget,
    frame_regions,
    join_facts,
    kept_bits,
    learn,
    mask,
    name_write,
    opaque,
    reads_written,
    rshift,
    scale,
    sub,
    try_add,
)


def fact(pos: int, value: int) -> tuple[Bits, int, int]:
    return (Bits(const(pos), 0, 8), value, value)


def ethertype(value: int, at: int = 12) -> Facts:
    return frozenset({fact(at, value >> 8), fact(at + 1, value & 0xFF)})


IPV4 = ethertype(0x0800)
IPV6 = ethertype(0x86DD)
IHL = Bits(const(14), 0, 4)
L4 = Lin(((IHL, 4),), 14, 14)  # 14 + 4·ihl: where OVS finds the L4 header
TCP4 = IPV4 | {fact(23, 6)}
UDP4 = IPV4 | {fact(23, 17)}


def names(start: Lin, size: int | None, facts: Facts) -> tuple[set[str], bool]:
    n = name_write(start, size, facts)
    return set(n.fields), n.flow_key


def layout(start: Lin, size: int | None, facts: Facts) -> str:
    return name_write(start, size, facts).layout


# --- fixed offsets --------------------------------------------------------------------


def test_a_checked_ethertype_names_one_field() -> None:
    assert names(const(22), 1, IPV4) == ({"ip.ttl"}, True)


def test_without_checks_every_layout_counts() -> None:
    fields, key = names(const(22), 1, frozenset())
    assert {"ip.ttl", "ipv6.payload_len", "ip.id"} <= fields
    assert key


def test_a_vlan_tag_moves_the_ip_header() -> None:
    tagged = ethertype(0x8100) | ethertype(0x0800, at=16)
    assert names(const(26), 1, tagged) == ({"ip.ttl"}, True)
    assert names(const(14), 2, tagged) == ({"vlan.tci"}, True)


def test_checksum_only_writes_leave_the_key_alone() -> None:
    assert names(const(24), 2, IPV4) == ({"ip.csum"}, False)


def test_an_unknown_ethertype_keeps_everything_in_the_key() -> None:
    fields, key = names(const(30), 1, ethertype(0x0806))  # ARP: OVS keys on its bytes
    assert key and fields


# --- proved or assumed layouts ---------------------------------------------------------
# An assumed naming says what bytes would be on IPv4/IPv6 without options;
# extframe must not hand those names to OVS (extframe/ovs/fields.py).


def test_names_are_proved_where_the_path_fixed_the_headers() -> None:
    assert layout(const(22), 1, IPV4) == "proved"  # ip.ttl behind a checked ethertype
    assert layout(L4.plus(2), 2, TCP4) == "proved"  # behind IPv4 options of any length
    assert layout(const(0), 6, frozenset()) == "proved"  # every frame starts with Ethernet
    assert layout(const(12), 2, frozenset()) == "proved"
    tagged = ethertype(0x8100) | ethertype(0x0800, at=16)
    assert layout(const(14), 2, tagged) == "proved"


def test_names_are_assumed_where_nothing_fixed_the_layout() -> None:
    assert layout(const(22), 1, frozenset()) == "assumed"  # IPv4's TTL, or IPv6's length
    assert layout(const(30), 1, ethertype(0x0806)) == "assumed"  # ARP, named as IP
    assert layout(L4.plus(16), 2, IPV4) == "assumed"  # an L4 protocol OVS may key on
    assert layout(Lin((), 6, 20), 1, frozenset()) == "assumed"  # reaches past Ethernet
    three = ethertype(0x8100) | ethertype(0x8100, at=16) | ethertype(0x8100, at=20)
    assert layout(const(26), 1, three) == "assumed"  # past OVS's two VLAN headers


def test_anchored_names_are_proved_and_before_their_header_assumed() -> None:
    assert layout(Lin(((Anchor("udp"), 1),), 2, 2), 2, frozenset()) == "proved"
    assert layout(Lin(((Anchor("udp"), 1),), -4, -4), 4, frozenset()) == "assumed"


# --- positions behind variable headers ---------------------------------------------------


def test_l4_checksum_behind_ip_options() -> None:
    assert names(L4.plus(16), 2, TCP4) == ({"tcp.csum"}, False)
    assert names(L4.plus(6), 2, UDP4) == ({"udp.csum"}, False)


def test_tcp_ports_behind_ip_options_are_in_the_key() -> None:
    assert names(L4.plus(2), 2, TCP4) == ({"tcp.dst"}, True)


def test_an_unknown_protocol_behind_ipv4_is_in_the_key() -> None:
    # Without the protocol, byte 16 of the L4 header may be anything OVS keys on.
    assert names(L4.plus(16), 2, IPV4)[1]


def test_the_data_offset_byte_is_in_the_key() -> None:
    fields, key = names(L4.plus(12), 1, TCP4)
    assert fields == {"tcp.data_offset", "tcp.flags"} and key


def test_tcp_payload_behind_options_is_not_in_the_key() -> None:
    doff4 = Lin(((Bits(L4.plus(12), 4, 4), 4),), 0, 0)
    fields, key = names(add(L4, doff4), None, TCP4)
    assert fields == {"payload"} and not key


def test_a_write_behind_the_fixed_tcp_header_is_options_or_payload() -> None:
    # OVS reads 20 bytes of TCP header whatever the data offset says.
    fields, key = names(L4.plus(20), 4, TCP4)
    assert fields <= {"tcp.options", "payload"} and not key


def test_a_short_ihl_means_no_l3_key() -> None:
    # ipv4_sanity_check() refuses an IHL below 5: OVS keys on nothing after it.
    short = IPV4 | {(IHL, 0, 4)}
    assert frame_regions(short)[1][-1] == "short"
    assert not names(const(40), 2, short)[1]
    assert names(const(14), 1, short)[1]  # but the IHL itself is


def test_an_unbounded_position_names_conservatively() -> None:
    fields, key = names(Lin((), 14, None), 1, TCP4)
    assert key and {"ip.src", "tcp.dst", "payload"} <= fields


# --- anchors: positions relative to an L4 header over many layouts -----------------------


def test_positions_anchor_to_their_l4_header() -> None:
    a = anchor(L4.plus(8), UDP4)
    assert a == Lin(((Anchor("udp"), 1),), 8, 8)
    assert anchor(L4.plus(8), IPV4) is None  # no UDP header known there


def test_anchored_names() -> None:
    udp = Lin(((Anchor("udp"), 1),), 8, None)
    assert names(udp, 1, frozenset()) == ({"payload"}, False)
    assert names(Lin(((Anchor("udp"), 1),), 2, 2), 2, frozenset()) == ({"udp.dst"}, True)
    assert names(Lin(((Anchor("tcp"), 1),), 16, 16), 2, frozenset()) == ({"tcp.csum"}, False)
    icmp6 = Lin(((Anchor("icmp", key=True), 1),), 8, 8)  # neighbour discovery
    assert names(icmp6, 4, frozenset())[1]


def test_an_anchored_write_before_its_header_is_blind() -> None:
    fields, key = names(Lin(((Anchor("udp"), 1),), -4, -4), 4, frozenset())
    assert key and "ip.src" in fields


def test_anchors_do_not_mix_with_packet_bits() -> None:
    udp = Lin(((Anchor("udp"), 1),), 0, 0)
    assert try_add(udp, L4) is None
    assert try_add(udp, const(8)) == udp.plus(8)
    assert sub(udp.plus(8), udp) == const(8)
    assert sub(udp, L4) is None


# --- facts -----------------------------------------------------------------------------


def test_learning_a_16_bit_compare_fixes_both_bytes() -> None:
    word = add(byte(const(12)), Lin(((Bits(const(13), 0, 8), 256),), 0, 0))
    facts = learn(frozenset(), word, 0x0008, 0x0008)  # little-endian load of 08 00
    assert facts == IPV4


def test_contradicting_facts_mean_no_path() -> None:
    assert contradictory(learn(IPV4, byte(const(12)), 0x86, 0x86))
    assert not contradictory(learn(IPV4, byte(const(12)), 0x08, 0x08))


def test_a_write_forgets_the_facts_about_its_bytes() -> None:
    assert forget(TCP4, const(23), 1) == IPV4
    assert forget(TCP4, const(30), 4) == TCP4
    assert forget(TCP4, None, 1) == frozenset()  # anywhere: nothing is kept
    assert forget(TCP4, Lin((), 0, None), 1) == frozenset()


def test_joined_paths_keep_what_both_know() -> None:
    assert join_facts(TCP4, UDP4) == IPV4 | {(Bits(const(23), 0, 8), 6, 17)}
    assert join_facts(TCP4, IPV6) == {
        (Bits(const(12), 0, 8), 0x08, 0x86),
        (Bits(const(13), 0, 8), 0x00, 0xDD),
    }


# --- bits a store keeps --------------------------------------------------------------

V6 = byte(const(14))  # the first byte of an untagged IPv6 header: version, tc high nibble
NIBBLE = Lin(((opaque(4), 1),), 0, 0)  # a 4-bit number that is not the packet's


def test_a_store_of_the_high_nibble_and_a_small_number_keeps_the_nibble() -> None:
    high = mask(V6, 0xF0)
    assert high is not None
    value = disjoint_or(high, NIBBLE)
    assert value is not None
    assert kept_bits(value, const(14), 1) == (0xF0,)
    n = name_write(const(14), 1, IPV6, kept_bits(value, const(14), 1))
    assert (set(n.fields), n.flow_key) == ({"ipv6.tc"}, True)


def test_a_wider_number_overlaps_the_nibble_and_keeps_nothing() -> None:
    high = mask(V6, 0xF0)
    assert high is not None
    assert disjoint_or(high, Lin(((opaque(5), 1),), 0, 0)) is None


def test_bits_kept_only_at_their_own_place() -> None:
    nibble = rshift(V6, 4)  # the version, moved to the low bits
    assert nibble is not None
    assert kept_bits(nibble, const(14), 1) == ()
    back = scale(nibble, 16)  # and back where it was: (b >> 4) << 4
    assert back is not None and kept_bits(back, const(14), 1) == (0xF0,)
    # The high nibble of another byte is not this byte's.
    other = mask(byte(const(15)), 0xF0)
    assert other is not None and kept_bits(other, const(14), 1) == ()
    # A two-byte store: byte i of the value goes to start + i (little-endian).
    word = Lin(((Bits(const(14), 0, 8), 1), (Bits(const(15), 0, 8), 256)), 0, 0)
    assert kept_bits(word, const(14), 2) == (0xFF, 0xFF)
    assert kept_bits(word, const(15), 2) == ()


def test_a_store_that_keeps_the_version_names_the_other_fields_only() -> None:
    low = Lin(((Bits(const(14), 0, 4), 1),), 0, 0)  # tc's high nibble kept
    n = name_write(const(14), 1, IPV6, kept_bits(low, const(14), 1))
    assert set(n.fields) == {"ipv6.version"}
    # byte 1: tc's low nibble, flow label's high nibble; keeping the former
    assert set(name_write(const(15), 1, IPV6, (0xF0,)).fields) == {"ipv6.flow_label"}
    assert set(name_write(const(15), 1, IPV6, (0x0F,)).fields) == {"ipv6.tc"}


def test_kept_bits_need_the_exact_position() -> None:
    # Somewhere in 14..18: the mask cannot be lined up with a field.
    n = name_write(Lin((), 14, 18), 1, IPV6, (0xF0,))
    assert {"ipv6.version", "ipv6.tc"} <= set(n.fields)


def test_opaque_numbers_are_never_the_same_number() -> None:
    x = Lin(((opaque(4), 1),), 0, 0)
    assert sub(x, x) is None
    assert try_add(x, const(14)) is None  # and never become positions
    assert learn(frozenset(), x, 3, 3) == frozenset()
    # Two equal ones side by side would merge into one term (17·x): refused.
    assert disjoint_or(x, scale(x, 16) or x) is None
    # A compare of packet bits beside an opaque field teaches the packet bits.
    high = mask(V6, 0xF0)
    assert high is not None
    both = disjoint_or(high, x)
    assert both is not None
    assert learn(frozenset(), both, 0x65, 0x65) == frozenset({(Bits(const(14), 4, 4), 6, 6)})


def test_a_value_reads_what_a_write_changes_directly_or_through_its_position() -> None:
    ihl_byte = const(14)
    l4 = L4  # 14 + 4·ihl
    assert reads_written(l4, ihl_byte, 1, IPV4)  # the IHL itself
    assert not reads_written(l4, const(22), 1, IPV4)  # the TTL: another byte
    proto_behind = byte(l4.plus(9))  # a byte whose position reads the IHL
    assert reads_written(proto_behind, ihl_byte, 1, IPV4)
    assert not reads_written(const(40), ihl_byte, 1, IPV4)  # a constant reads nothing
    assert reads_written(byte(const(40)), None, None, IPV4)  # a write anywhere
    nibble = Lin(((opaque(4), 1),), 0, 0)
    assert not reads_written(nibble, None, None, IPV4)  # opaque bits are not the packet's


def test_facts_about_a_byte_behind_a_written_ihl_are_forgotten() -> None:
    behind = (Bits(L4.plus(2), 0, 8), 0, 0)  # a fact on the TCP destination port's byte
    facts = frozenset({*TCP4, (IHL, 5, 15), behind})
    assert behind not in forget(facts, const(14), 1)
    assert behind in forget(facts, const(22), 1)
