"""Header fields by name: where each lies in its header, in bytes.

The one table of field names in the project: declarations
(``EXTFRAME_EFFECTS``), packet diffs and the analyzer's write sets all speak
these names. Offsets are from the start of the field's own header. A field
that shares its bytes with another (IPv4 version and IHL, IPv6 version,
traffic class and flow label, TCP data offset and flags) has a bit mask over
its bytes too: a store that provably keeps a field's bits (``(b & 0xf0) | x``
keeps the high nibble) does not write that field. The VLAN TCI and the IPv4
flags and fragment offset are one field each.

Layouts: IEEE 802.3 and 802.1Q, RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293
(TCP), RFC 768 (UDP), RFC 792 (ICMP).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its header, byte offset in it and size in bytes.

    ``size`` None means variable (options), running to the header's end.
    ``bits``: the field's bits within its ``size`` bytes read big-endian
    (None: all of them).
    """

    name: str
    header: str
    offset: int
    size: int | None
    bits: int | None = None

    def bits_of_byte(self, offset: int) -> int:
        """The bits of header byte ``offset`` that belong to this field (0: none)."""
        if offset < self.offset or (self.size is not None and offset >= self.offset + self.size):
            return 0
        if self.bits is None or self.size is None:
            return 0xFF
        return (self.bits >> (8 * (self.offset + self.size - 1 - offset))) & 0xFF


Row = tuple[str, int, int | None] | tuple[str, int, int | None, int]


def _table(header: str, rows: list[Row]) -> list[Field]:
    return [Field(f"{header}.{r[0]}", header, *r[1:]) for r in rows]


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        *_table("eth", [("dst", 0, 6), ("src", 6, 6), ("type", 12, 2)]),
        # The 4-byte tag after the MAC addresses: TPID sits where eth.type
        # was; the layer holds TCI and the inner ethertype.
        *_table("vlan", [("tci", 0, 2), ("type", 2, 2)]),
        *_table(
            "ip",
            [
                ("version", 0, 1, 0xF0),
                ("ihl", 0, 1, 0x0F),
                ("tos", 1, 1),
                ("len", 2, 2),
                ("id", 4, 2),
                ("frag", 6, 2),
                ("ttl", 8, 1),
                ("proto", 9, 1),
                ("csum", 10, 2),
                ("src", 12, 4),
                ("dst", 16, 4),
                ("options", 20, None),
            ],
        ),
        *_table(
            "ipv6",
            [
                ("version", 0, 1, 0xF0),
                ("tc", 0, 2, 0x0FF0),
                ("flow_label", 1, 3, 0x0FFFFF),
                ("payload_len", 4, 2),
                ("next_header", 6, 1),
                ("hop_limit", 7, 1),
                ("src", 8, 16),
                ("dst", 24, 16),
            ],
        ),
        *_table(
            "tcp",
            [
                ("src", 0, 2),
                ("dst", 2, 2),
                ("seq", 4, 4),
                ("ack", 8, 4),
                ("data_offset", 12, 1, 0xF0),
                # The reserved bits and the nine flags (NS ... FIN), as
                # scapy's reserved and flags fields.
                ("flags", 12, 2, 0x0FFF),
                ("window", 14, 2),
                ("csum", 16, 2),
                ("urg", 18, 2),
                ("options", 20, None),
            ],
        ),
        *_table("udp", [("src", 0, 2), ("dst", 2, 2), ("len", 4, 2), ("csum", 6, 2)]),
        *_table("icmp", [("type", 0, 1), ("code", 1, 1), ("csum", 2, 2), ("rest", 4, 4)]),
    ]
}

#: Bytes beyond the parsed L4 header: not part of the OVS flow key.
PAYLOAD = "payload"
#: Metadata the classifier sees (skb mark ↔ pkt_mark, priority ↔ skb_priority).
METADATA = ("meta.mark", "meta.priority")
#: Any change of the packet's length or header layout.
LENGTH = "length"

#: Every name an action may declare or the analyzer may report.
ALL_NAMES: frozenset[str] = frozenset([*FIELDS, PAYLOAD, *METADATA, LENGTH])


# --- Layouts: which field a byte offset from the Ethernet header start is ------


@dataclass(frozen=True, slots=True)
class Layout:
    """One way a frame may be laid out: headers at fixed starts.

    ``headers``: ``(header, start, length)`` in frame order; bytes past the
    last header are ``payload``.
    """

    name: str
    headers: tuple[tuple[str, int, int], ...]

    def fields(self, lo: int, hi: int | None) -> set[str]:
        """Names of the fields with a byte in ``[lo, hi]`` (``hi`` None: to the end)."""
        names: set[str] = set()
        end = 0
        for header, start, length in self.headers:
            end = start + length
            if (hi is not None and hi < start) or lo >= end:
                continue
            for f in FIELDS.values():
                if f.header != header:
                    continue
                f_lo = start + f.offset
                f_hi = start + (f.offset + f.size if f.size is not None else length) - 1
                if f_lo <= f_hi and lo <= f_hi and (hi is None or f_lo <= hi):
                    names.add(f.name)
        if hi is None or hi >= end:
            names.add(PAYLOAD)
        return names


def _layouts() -> tuple[Layout, ...]:
    # Frame starts: untagged, one 802.1Q tag, two tags (802.1ad outer).
    l2s: list[tuple[str, list[tuple[str, int, int]], int]] = [
        ("eth", [("eth", 0, 14)], 14),
        ("eth/vlan", [("eth", 0, 14), ("vlan", 14, 4)], 18),
        ("eth/vlan/vlan", [("eth", 0, 14), ("vlan", 14, 4), ("vlan", 18, 4)], 22),
    ]
    # IPv4 without options (ihl 5) and IPv6 without extension headers.
    l3s = [("ip", 20), ("ipv6", 40)]
    l4s = [("tcp", 20, False), ("udp", 8, False), ("icmp", 8, False), ("icmp", 8, True)]
    out: list[Layout] = []
    for l2_name, l2_headers, l3_start in l2s:
        for l3, l3_len in l3s:
            l4_start = l3_start + l3_len
            for l4, l4_len, v6_only in l4s:
                if l4 == "icmp" and (l3 == "ipv6") != v6_only:
                    continue  # ICMP goes with IPv4, ICMPv6 with IPv6
                out.append(
                    Layout(
                        f"{l2_name}/{l3}/{'icmpv6' if v6_only else l4}",
                        (*l2_headers, (l3, l3_start, l3_len), (l4, l4_start, l4_len)),
                    )
                )
    return tuple(out)


#: The frame layouts write sets are named in: untagged, 802.1Q and QinQ
#: frames carrying IPv4 (no options) or IPv6 (no extension headers) with
#: TCP, UDP or ICMP. A byte offset names a field per layout; the byte range
#: itself, not the name, is what a decision rests on.
LAYOUTS: tuple[Layout, ...] = _layouts()


def fields_in_span(lo: int, hi: int | None) -> list[str]:
    """Field names a write of bytes ``[lo, hi]`` may hit, over every layout in LAYOUTS.

    For spans no header position goes with (the verifier's alone, a layout
    change); analyzer/symbolic.py names the writes whose position it knows.
    """
    names: set[str] = set()
    for layout in LAYOUTS:
        names |= layout.fields(lo, hi)
    return sorted(names)
