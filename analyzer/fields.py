"""Header fields by name: where each lies in its header, in bytes.

The one table of field names in the project: declarations
(``EXTFRAME_EFFECTS``), packet diffs and the analyzer's write sets all speak
these names. Offsets are from the start of the field's own header; a field
narrower than a byte (ihl, TCP flags' NS bit, the VLAN PCP) is given as the
byte or bytes holding it, since writes land on whole bytes.

Layouts: IEEE 802.3 and 802.1Q, RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293
(TCP), RFC 768 (UDP), RFC 792 (ICMP).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its header, byte offset in it and size in bytes.

    ``size`` None means variable (options), running to the header's end.
    """

    name: str
    header: str
    offset: int
    size: int | None


def _table(header: str, rows: list[tuple[str, int, int | None]]) -> list[Field]:
    return [Field(f"{header}.{n}", header, off, size) for n, off, size in rows]


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
                ("version", 0, 1),
                ("ihl", 0, 1),
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
                ("version", 0, 1),
                ("tc", 0, 2),
                ("flow_label", 1, 3),
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
                ("data_offset", 12, 1),
                ("flags", 12, 2),
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
    """One way a frame may be laid out: headers at fixed starts, and the bytes that say so.

    ``headers``: ``(header, start, length)`` in frame order; bytes past the
    last header are ``payload``. ``defines``: ``(offset, byte)`` pairs a
    frame of this layout has (ethertypes, IP protocol numbers): a path
    that compared one of these bytes with another value is not this layout.
    """

    name: str
    headers: tuple[tuple[str, int, int], ...]
    defines: frozenset[tuple[int, int]]

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


def _bytes_at(offset: int, value: int, size: int) -> set[tuple[int, int]]:
    return {(offset + i, b) for i, b in enumerate(value.to_bytes(size, "big"))}


def _layouts() -> tuple[Layout, ...]:
    # Frame starts: untagged, one 802.1Q tag, two tags (802.1ad outer).
    l2s: list[tuple[str, list[tuple[str, int, int]], int, set[tuple[int, int]]]] = [
        ("eth", [("eth", 0, 14)], 12, set()),
        ("eth/vlan", [("eth", 0, 14), ("vlan", 14, 4)], 16, _bytes_at(12, 0x8100, 2)),
        (
            "eth/vlan/vlan",
            [("eth", 0, 14), ("vlan", 14, 4), ("vlan", 18, 4)],
            20,
            _bytes_at(12, 0x88A8, 2) | _bytes_at(16, 0x8100, 2),
        ),
    ]
    # IPv4 without options (ihl 5) and IPv6 without extension headers.
    l3s = [("ip", 0x0800, 20, 9), ("ipv6", 0x86DD, 40, 6)]
    l4s = [("tcp", 6, 20), ("udp", 17, 8), ("icmp", 1, 8), ("icmp", 58, 8)]
    out: list[Layout] = []
    for l2_name, l2_headers, type_at, l2_defines in l2s:
        l3_start = type_at + 2
        for l3, ethertype, l3_len, proto_at in l3s:
            l4_start = l3_start + l3_len
            for l4, proto, l4_len in l4s:
                if (l3 == "ip") != (proto != 58):
                    continue
                defines = l2_defines | _bytes_at(type_at, ethertype, 2)
                defines |= {(l3_start + proto_at, proto)}
                if l3 == "ip":
                    defines |= {(l3_start, 0x45)}
                out.append(
                    Layout(
                        f"{l2_name}/{l3}/{l4 if proto != 58 else 'icmpv6'}",
                        (*l2_headers, (l3, l3_start, l3_len), (l4, l4_start, l4_len)),
                        frozenset(defines),
                    )
                )
    return tuple(out)


#: The frame layouts write sets are named in: untagged, 802.1Q and QinQ
#: frames carrying IPv4 (no options) or IPv6 (no extension headers) with
#: TCP, UDP or ICMP. A byte offset names a field per layout; the byte range
#: itself, not the name, is what a decision rests on.
LAYOUTS: tuple[Layout, ...] = _layouts()


def layouts_for(facts: frozenset[tuple[int, int]] | set[tuple[int, int]]) -> tuple[Layout, ...]:
    """The layouts that agree with ``facts`` (packet bytes a path compared with constants).

    When none agrees (the program checked for something else, ARP say),
    every layout is returned: the names then describe, they do not decide.
    """
    fitting = tuple(
        layout
        for layout in LAYOUTS
        if all(dict(layout.defines).get(off, byte) == byte for off, byte in facts)
    )
    return fitting or LAYOUTS


def fields_in_span(
    lo: int, hi: int | None, facts: frozenset[tuple[int, int]] = frozenset()
) -> list[str]:
    """Field names a write of bytes ``[lo, hi]`` may hit, over the layouts ``facts`` allow."""
    names: set[str] = set()
    for layout in layouts_for(facts):
        names |= layout.fields(lo, hi)
    return sorted(names)
