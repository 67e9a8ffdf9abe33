"""Packet positions that depend on header fields, and the header fields a write hits.

Where an IPv4 header ends depends on its IHL, where a TCP payload starts on
the data offset, where IPv6's upper layer starts on each extension header's
length. A program computes such positions from the bytes it read, and so does
this module: a ``Lin`` is ``Σ coef·bits + c`` with ``c`` in a range, each
``Bits`` a bit field of one packet byte at a position that is itself a
``Lin``. ``4·(byte 14 & 0xf) + 30`` is "16 bytes into the L4 header of an
untagged IPv4 frame", whatever the IHL.

``Facts`` are what a path learned about bit fields by comparing them with
constants (``eth.type == 0x0800``, ``ihl >= 5``). ``frame_regions`` lays out
the frame as OVS parses it (lib/flow.c, ``miniflow_extract``) from those
facts: Ethernet, up to two VLAN tags, IPv4 with its options or IPv6 with its
extension headers, TCP/UDP/ICMP, payload. Where the facts do not settle what
comes next, the rest of the frame is ``unknown``. ``name_write`` says which
fields a write may hit: exact when the write's position and a header's start
differ by a constant, an interval bound otherwise — never less than the truth.
Its ``layout`` says whether the path proved the headers those names are in,
or the bytes were named over assumed IP layouts (then the byte range, not
the names, is what a consumer may rely on).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from analyzer.fields import FIELDS, PAYLOAD, fields_in_span

#: ``(bits, lo, hi)``: on this path the bit field's value lies in ``[lo, hi]``.
Fact = tuple["Bits", int, int]
Facts = frozenset[Fact]


@dataclass(frozen=True, slots=True, order=True)
class Lin:
    """``Σ coef·bits + c`` for ``c`` in ``[lo, hi]`` (``hi`` None: unbounded)."""

    terms: tuple[tuple[Bits | Anchor, int], ...]  # sorted, no zero coefficient
    lo: int
    hi: int | None

    @property
    def fixed(self) -> bool:
        """Whether the constant part is one number (the position of one byte)."""
        return self.lo == self.hi

    def plus(self, lo: int, hi: int | None = None) -> Lin:
        """``self`` + a constant in ``[lo, hi]`` (``hi`` defaults to ``lo``)."""
        hi = lo if hi is None else hi
        return Lin(
            self.terms, self.lo + lo, None if self.hi is None or hi is None else self.hi + hi
        )


@dataclass(frozen=True, slots=True, order=True)
class Bits:
    """``(packet byte at pos >> shift) & (2**width - 1)``; ``pos`` is a fixed ``Lin``."""

    pos: Lin
    shift: int
    width: int


@dataclass(frozen=True, slots=True, order=True)
class Anchor:
    """The start of an L4 header (``tcp``, ``udp``, ``icmp``) wherever the frame puts it.

    Paths that lay the frame out differently (IPv6 extension header chains)
    hold their L4 header at positions with different symbolic forms; joined,
    a pointer to "the UDP header + 8" keeps that much. On a frame where OVS
    parses no such header, the bytes are not in its flow key. ``key``: the
    header's payload is in the flow key too (ICMPv6 neighbour discovery).
    """

    header: str
    key: bool = False


#: The position of no packet byte: ``Bits`` there are opaque (see ``opaque``).
_OPAQUE_POS = Lin((), -1, -1)


def opaque(width: int) -> Bits:
    """A number of ``width`` bits that is not read from the packet (a map value, say).

    It lets a value that mixes packet bits with other bits stay a set of bit
    fields, so that a store of ``(byte & 0xf0) | x`` is known to keep the
    byte's high nibble. Each occurrence stands for a number of its own: two
    equal opaque terms are not the same number, so nothing is learnt about
    them (``learn``) and they never go into positions.
    """
    return Bits(_OPAQUE_POS, 0, width)


def is_opaque(bits: Bits | Anchor) -> bool:
    return isinstance(bits, Bits) and bits.pos == _OPAQUE_POS


def has_opaque(a: Lin) -> bool:
    """Whether ``a`` has an opaque term."""
    return any(is_opaque(b) for b, _ in a.terms)


#: Where an anchored position may be at most: the frame is at most 64 KiB.
_FRAME_MAX = 1 << 16


def anchored(a: Lin) -> Anchor | None:
    """The anchor of ``a`` (then its only term), or None."""
    if len(a.terms) == 1 and isinstance(a.terms[0][0], Anchor):
        return a.terms[0][0]
    return None


def const(c: int) -> Lin:
    """The number ``c``."""
    return Lin((), c, c)


def byte(pos: Lin) -> Lin:
    """The packet byte at ``pos``."""
    return Lin(((Bits(pos, 0, 8), 1),), 0, 0)


Terms = tuple[tuple["Bits | Anchor", int], ...]


def _merge(a: Terms, b: Terms, sign: int) -> Terms:
    out = dict(a)
    for bits, coef in b:
        out[bits] = out.get(bits, 0) + sign * coef
    return tuple(sorted((k, v) for k, v in out.items() if v))


def _mixes(a: Lin, b: Lin) -> bool:
    """Whether ``a`` and ``b`` together would put an anchor beside other terms."""
    if not a.terms or not b.terms:
        return False
    return (anchored(a) is not None or anchored(b) is not None) and a.terms != b.terms


def try_add(a: Lin, b: Lin) -> Lin | None:
    """``a + b``; None when that would add an anchor to something else, or has opaque terms."""
    if _mixes(a, b) or (anchored(a) is not None and anchored(b) is not None):
        return None
    if has_opaque(a) or has_opaque(b):
        return None
    return add(a, b)


def add(a: Lin, b: Lin) -> Lin:
    """``a + b`` for positions without anchors (see ``try_add``)."""
    hi = None if a.hi is None or b.hi is None else a.hi + b.hi
    return Lin(_merge(a.terms, b.terms, 1), a.lo + b.lo, hi)


def sub(a: Lin, b: Lin) -> Lin | None:
    """``a - b``; None when ``b`` is unbounded above, an anchor would stay beside bits,
    or either has opaque terms (two of them are not the same number)."""
    if b.hi is None or _mixes(a, b) or has_opaque(a) or has_opaque(b):
        return None
    return Lin(_merge(a.terms, b.terms, -1), a.lo - b.hi, None if a.hi is None else a.hi - b.lo)


def scale(a: Lin, k: int) -> Lin | None:
    """``a · k`` for ``k >= 0``; None when unbounded or anchored."""
    if k < 0 or a.hi is None or anchored(a) is not None:
        return None
    return Lin(tuple((b, c * k) for b, c in a.terms if c * k), a.lo * k, a.hi * k)


def _bitvector(a: Lin) -> list[tuple[Bits, int]] | None:
    """``a`` as bit fields side by side: ``(bits, first value bit)``, or None."""
    if (a.lo, a.hi) != (0, 0):
        return None
    out: list[tuple[Bits, int]] = []
    used = 0
    for bits, coef in a.terms:
        if not isinstance(bits, Bits) or coef <= 0 or coef & (coef - 1):
            return None
        at = coef.bit_length() - 1
        span = ((1 << bits.width) - 1) << at
        if used & span:
            return None
        used |= span
        out.append((bits, at))
    return out


def _from_bitvector(parts: list[tuple[Bits, int]]) -> Lin:
    return Lin(tuple(sorted((b, 1 << at) for b, at in parts)), 0, 0)


def mask(a: Lin, m: int) -> Lin | None:
    """``a & m`` when that keeps ``a`` a set of bit fields; else None."""
    parts = _bitvector(a)
    if parts is None:
        return None
    out: list[tuple[Bits, int]] = []
    for bits, at in parts:
        sel = (m >> at) & ((1 << bits.width) - 1)
        if not sel:
            continue
        low = (sel & -sel).bit_length() - 1
        width = (sel >> low).bit_length()
        if sel >> low != (1 << width) - 1:
            return None  # not one run of bits
        out.append((Bits(bits.pos, bits.shift + low, width), at + low))
    return _from_bitvector(out)


def rshift(a: Lin, k: int) -> Lin | None:
    """``a >> k`` when that keeps ``a`` a set of bit fields; else None."""
    parts = _bitvector(a)
    if parts is None:
        return None
    out: list[tuple[Bits, int]] = []
    for bits, at in parts:
        if at >= k:
            out.append((bits, at - k))
        elif at + bits.width > k:
            cut = k - at
            out.append((Bits(bits.pos, bits.shift + cut, bits.width - cut), 0))
    return _from_bitvector(out)


def disjoint_or(a: Lin, b: Lin) -> Lin | None:
    """``a | b`` when the two are bit fields that do not overlap (then it is ``a + b``)."""
    pa, pb = _bitvector(a), _bitvector(b)
    if pa is None or pb is None:
        return None
    both = _bitvector(add(a, b))
    return None if both is None or len(both) != len(pa) + len(pb) else add(a, b)


def kept_bits(value: Lin, start: Lin, size: int) -> tuple[int, ...]:
    """Per byte of a store of ``value`` at ``start``: the bits it provably leaves as they were.

    A bit is kept when ``value`` puts the packet bit read from that very
    place back where it was: the store of ``(byte & 0xf0) | x`` to the
    byte's position keeps 0xf0. Empty when no bit is kept.

    Whatever was written to a byte between the read and this store was
    named by its own write, so "as they were" holds against the packet
    the program received, too.
    """
    parts = _bitvector(value)
    if parts is None or not start.fixed:
        return ()
    keep = [0] * size
    for bits, at in parts:
        i, bit = divmod(at, 8)
        if (
            i < size
            and not is_opaque(bits)
            and bits.shift == bit
            and bit + bits.width <= 8
            and bits.pos == start.plus(i)
        ):
            keep[i] |= ((1 << bits.width) - 1) << bit
    return tuple(keep) if any(keep) else ()


def swap_bytes(a: Lin, nbytes: int) -> Lin | None:
    """``a`` with its low ``nbytes`` bytes in reverse order (bswap, htons)."""
    parts = _bitvector(a)
    if parts is None:
        return None
    out: list[tuple[Bits, int]] = []
    for bits, at in parts:
        if at % 8 or bits.width > 8 or at // 8 >= nbytes:
            return None
        out.append((bits, (nbytes - 1 - at // 8) * 8))
    return _from_bitvector(out)


# --- facts ----------------------------------------------------------------------------


def bits_range(bits: Bits, facts: Facts) -> tuple[int, int]:
    """The values ``bits`` may have on a path with ``facts``."""
    lo, hi = 0, (1 << bits.width) - 1
    for b, f_lo, f_hi in facts:
        if b == bits:
            lo, hi = max(lo, f_lo), min(hi, f_hi)
        elif (
            b.pos == bits.pos
            and f_lo == f_hi
            and b.shift <= bits.shift
            and bits.shift + bits.width <= b.shift + b.width
        ):
            # A known wider field holds this one (the byte, say, for its nibble).
            v = (f_lo >> (bits.shift - b.shift)) & ((1 << bits.width) - 1)
            lo, hi = max(lo, v), min(hi, v)
    return lo, hi


def bounds(a: Lin, facts: Facts) -> tuple[int, int | None]:
    """The smallest and largest value of ``a`` (None: unbounded)."""
    lo, hi = a.lo, a.hi
    for bits, coef in a.terms:
        b_lo, b_hi = (0, _FRAME_MAX) if isinstance(bits, Anchor) else bits_range(bits, facts)
        lo += coef * (b_lo if coef > 0 else b_hi)
        if hi is not None:
            hi += coef * (b_hi if coef > 0 else b_lo)
    return lo, hi


def learn(facts: Facts, a: Lin, lo: int, hi: int) -> Facts:
    """``facts`` plus what ``lo <= a <= hi`` says about the bit fields in ``a``."""
    parts = _bitvector(a)
    if parts is None:
        return facts
    new: list[Fact] = []
    if len(parts) == 1 and parts[0][1] == 0:
        new.append((parts[0][0], lo, hi))
    elif lo == hi:
        for b, at in parts:
            v = (lo >> at) & ((1 << b.width) - 1)
            new.append((b, v, v))
    new = [f for f in new if not is_opaque(f[0])]
    if not new:
        return facts
    out = set(facts)
    for bits, f_lo, f_hi in new:
        old = [f for f in out if f[0] == bits]
        for f in old:
            out.discard(f)
            f_lo, f_hi = max(f_lo, f[1]), min(f_hi, f[2])
        out.add((bits, f_lo, f_hi))
    return frozenset(out)


def contradictory(facts: Facts) -> bool:
    """Whether no packet satisfies ``facts`` (the path cannot happen)."""
    return any(lo > hi for _, lo, hi in facts)


def forget(facts: Facts, start: Lin | None, size: int | None) -> Facts:
    """``facts`` without those about bytes a write of ``[start, start + size)`` may change.

    ``start`` None: the write may be anywhere, so nothing is kept.
    """
    if not facts:
        return facts
    if start is None:
        return frozenset()
    return frozenset(
        f
        for f in facts
        if not _may_hit(f[0].pos, start, size, facts)
        and not reads_written(f[0].pos, start, size, facts)
    )


def _may_hit(pos: Lin, start: Lin, size: int | None, facts: Facts) -> bool:
    """Whether the byte at ``pos`` may be one of ``[start, start + size)``."""
    last = start.plus(size - 1) if size is not None else Lin(start.terms, start.lo, None)
    return not (_below(pos, start, facts) or _below(last, pos, facts))


def reads_written(a: Lin, start: Lin | None, size: int | None, facts: Facts) -> bool:
    """Whether ``a`` reads a packet byte a write of ``[start, start + size)`` may change.

    Directly, or through the position of a byte it reads: after a write of
    the IHL, ``14 + 4·ihl`` is no longer where the program's pointer points.
    ``start`` None: the write may be anywhere.
    """
    for b, _ in a.terms:
        if isinstance(b, Bits) and not is_opaque(b):
            if start is None or _may_hit(b.pos, start, size, facts):
                return True
            if reads_written(b.pos, start, size, facts):
                return True
    return False


def join_facts(a: Facts, b: Facts) -> Facts:
    """What both paths know: for a field known on both, the hull of the two ranges."""
    if a == b:
        return a
    ranges_b: dict[Bits, tuple[int, int]] = {f[0]: (f[1], f[2]) for f in b}
    out = set()
    for bits, lo, hi in a:
        other = ranges_b.get(bits)
        if other is not None:
            out.add((bits, min(lo, other[0]), max(hi, other[1])))
    return frozenset(out)


def byte_value(facts: Facts, pos: Lin) -> int | None:
    """The packet byte at ``pos`` when the facts fix it."""
    lo, hi = bits_range(Bits(pos, 0, 8), facts)
    return lo if lo == hi else None


def u16_value(facts: Facts, pos: Lin) -> int | None:
    """The big-endian 16-bit field at ``pos`` when the facts fix it."""
    a, b = byte_value(facts, pos), byte_value(facts, pos.plus(1))
    return None if a is None or b is None else a << 8 | b


# --- the frame as OVS parses it --------------------------------------------------------

#: Header fields OVS's flow key does not hold (lib/flow.c): writing them needs
#: no re-classification. Everything else a frame holds does, or may.
NOT_IN_FLOW_KEY = frozenset(
    {
        "ip.id",
        "ip.csum",
        "ip.options",
        "tcp.seq",
        "tcp.ack",
        "tcp.window",
        "tcp.csum",
        "tcp.urg",
        "tcp.options",
        "udp.len",
        "udp.csum",
        "icmp.csum",
        "icmp.rest",
        PAYLOAD,
    }
)
IPV6_EXT = "ipv6.ext"

_VLAN_TPIDS = (0x8100, 0x88A8)  # eth_type_vlan(), lib/packets.h
_IPV6_EXT_LEN8 = (0, 43, 60)  # hop-by-hop, routing, destination options: (len + 1) * 8
_IPV6_FRAGMENT = 44
_IPV6_AH = 51  # (len + 2) * 4
_MAX_VLAN = 2  # FLOW_MAX_VLAN_HEADERS
_MAX_EXT = 8


@dataclass(frozen=True, slots=True)
class Region:
    """Bytes ``[start, end)`` of the frame (``end`` None: to its end).

    ``header``: a FIELDS header (``eth``, ``ip``, ...) named by offset, or
    a name for the whole region (``ip.options``, ``payload``, ``unknown``).
    ``key``: every byte of the region may be in the flow key whatever its name.
    """

    header: str
    start: Lin
    end: Lin | None
    key: bool = False


@lru_cache(maxsize=1 << 14)
def frame_regions(facts: Facts) -> tuple[tuple[Region, ...], tuple[object, ...], Facts]:
    """The frame's regions on a path with ``facts``, and the choices that made them.

    The second value, the layout's signature, tells paths apart that lay the
    frame out differently: the analysis keeps their states apart. The third
    is ``facts`` plus what OVS needs of a header before it parses past it
    (an IPv4 IHL of at least 5, ``ipv4_sanity_check``): positions behind a
    header are bounded with those, since on a frame without them the flow
    key stops at that header.
    """
    regions: list[Region] = [Region("eth", const(0), const(14))]
    sig: list[object] = []
    cur = const(14)
    type_at = const(12)
    eth_type = u16_value(facts, type_at)
    while eth_type in _VLAN_TPIDS:
        if len(sig) == _MAX_VLAN:
            regions.append(Region("unknown", cur, None, key=True))
            return tuple(regions), (*sig, eth_type), facts
        regions.append(Region("vlan", cur, cur.plus(4)))
        sig.append(eth_type)  # the TPID too: joining two would forget both
        type_at, cur = cur.plus(2), cur.plus(4)
        eth_type = u16_value(facts, type_at)
    if eth_type == 0x0800:
        ihl = Bits(cur, 0, 4)
        regions.append(Region("ip", cur, cur.plus(20)))
        parsed = learn(facts, Lin(((ihl, 1),), 0, 0), 5, 15)
        if contradictory(parsed):
            # IHL below 5: OVS parses no further (its flow key has no L3).
            regions.append(Region("unknown", cur.plus(20), None))
            return tuple(regions), (*sig, "ipv4", "short"), facts
        facts = parsed
        l4 = add(cur, Lin(((ihl, 4),), 0, 0))
        regions.append(Region("ip.options", cur.plus(20), l4))
        proto = byte_value(facts, cur.plus(9))
        sig += ["ipv4", proto]
        facts = _l4(regions, l4, proto, facts, v6=False)
    elif eth_type == 0x86DD:
        regions.append(Region("ipv6", cur, cur.plus(40)))
        nh = byte_value(facts, cur.plus(6))
        cur = cur.plus(40)
        sig.append("ipv6")
        for _ in range(_MAX_EXT):
            if nh in _IPV6_EXT_LEN8:
                length = Lin(((Bits(cur.plus(1), 0, 8), 8),), 8, 8)
            elif nh == _IPV6_AH:
                length = Lin(((Bits(cur.plus(1), 0, 8), 4),), 8, 8)
            elif nh == _IPV6_FRAGMENT:
                length = const(8)
            else:
                break
            end = add(cur, length)
            regions.append(Region(IPV6_EXT, cur, end, key=True))
            sig.append(nh)
            nh = byte_value(facts, cur)
            cur = end
        sig.append(nh)
        facts = _l4(regions, cur, nh, facts, v6=True)
    else:
        sig.append(eth_type)
        regions.append(Region("unknown", cur, None, key=True))
    return tuple(regions), tuple(sig), facts


def _l4(regions: list[Region], start: Lin, proto: int | None, facts: Facts, v6: bool) -> Facts:
    """Appends the L4 regions; returns ``facts`` with what OVS assumes of them."""
    if proto == 6:
        # OVS takes the first 20 bytes as the header whatever the data
        # offset says; options and payload (neither in the flow key) follow.
        doff = Bits(start.plus(12), 4, 4)
        regions.append(Region("tcp", start, start.plus(20)))
        parsed = learn(facts, Lin(((doff, 1),), 0, 0), 5, 15)
        if contradictory(parsed):
            regions.append(Region(PAYLOAD, start.plus(20), None))
            return facts
        doff4 = Lin(((doff, 4),), 0, 0)
        regions.append(Region("tcp.options", start.plus(20), add(start, doff4)))
        regions.append(Region(PAYLOAD, add(start, doff4), None))
        return parsed
    elif proto == 17:
        regions.append(Region("udp", start, start.plus(8)))
        regions.append(Region(PAYLOAD, start.plus(8), None))
    elif (proto == 1 and not v6) or (proto == 58 and v6):
        # ICMPv6 neighbour discovery puts its target and options in the key.
        regions.append(Region("icmp", start, start.plus(8), key=v6))
        regions.append(Region(PAYLOAD, start.plus(8), None, key=v6))
    else:
        regions.append(Region("unknown", start, None, key=True))
    return facts


def layout_signature(facts: Facts) -> tuple[object, ...]:
    """What tells this path's frame layout from others' (see ``frame_regions``)."""
    return frame_regions(facts)[1]


def network_prefix(sig: tuple[object, ...]) -> tuple[object, ...]:
    """The part of a layout signature up to the network header's kind."""
    for i, part in enumerate(sig):
        if part in ("ipv4", "ipv6"):
            return sig[: i + 1]
    return sig


#: Where a naming's frame layout comes from: ``proved`` when the path fixed
#: the headers its bytes are in (facts, an anchor, the Ethernet header every
#: frame starts with); ``assumed`` when they were named over ``LAYOUTS``
#: (analyzer/fields.py), IPv4 without options or IPv6 without extension
#: headers, because the path did not fix the layout. On an ARP, MPLS or
#: IPv4-with-options frame the same bytes are other fields: an assumed
#: naming says which bytes, not which of OVS's fields.
LayoutBasis = Literal["proved", "assumed"]


@dataclass(frozen=True, slots=True)
class Naming:
    """The fields a write may hit, whether it may change the flow key, and
    whether the layout the names come from was proved or assumed."""

    fields: frozenset[str]
    flow_key: bool
    layout: LayoutBasis = "proved"


def _at_or_above(x: Lin, y: Lin, facts: Facts) -> bool:
    """Provably ``x >= y``."""
    d = sub(x, y)
    return d is not None and bounds(d, facts)[0] >= 0


def _below(x: Lin, y: Lin, facts: Facts) -> bool:
    """Provably ``x < y``."""
    d = sub(y, x)
    return d is not None and bounds(d, facts)[0] > 0


def anchor(a: Lin, facts: Facts) -> Lin | None:
    """``a`` as an anchored position (``udp + 8``): an L4 header's start plus a constant."""
    if not a.terms or anchored(a) is not None:
        return None
    regions, _, _ = frame_regions(facts)
    for r in regions:
        if r.header in _L4_HEADERS:
            d = sub(a, r.start)
            if d is not None and not d.terms:
                return Lin(((Anchor(r.header, r.key), 1),), d.lo, d.hi)
    return None


_L4_HEADERS = {"tcp": 20, "udp": 8, "icmp": 8}


def _name_anchored(at: Anchor, start: Lin, size: int | None) -> Naming:
    lo = start.lo
    hi = None if start.hi is None or size is None else start.hi + size - 1
    if lo < 0:  # before its own header: somewhere in headers no fact placed
        return Naming(frozenset(fields_in_span(0, None)), True, "assumed")
    length = _L4_HEADERS[at.header]
    names = {
        f.name
        for f in FIELDS.values()
        if f.header == at.header
        and f.size is not None
        and f.offset + f.size - 1 >= lo
        and (hi is None or f.offset <= hi)
    }
    key = at.key or any(n not in NOT_IN_FLOW_KEY for n in names)
    if hi is None or hi >= length:
        names.add(PAYLOAD)
        if at.header == "tcp":
            names.add("tcp.options")
    return Naming(frozenset(names), key)


def name_write(start: Lin, size: int | None, facts: Facts, keep: tuple[int, ...] = ()) -> Naming:
    """The fields bytes ``[start, start + size)`` may hit (``size`` None: to the end).

    ``keep``: per byte, the bits the write provably leaves as they were
    (``kept_bits``); a field none of whose bits may change is not hit.
    """
    at = anchored(start)
    if at is not None:
        return _name_anchored(at, start, size)
    last = start.plus(size - 1) if size is not None else Lin(start.terms, start.lo, None)
    names: set[str] = set()
    key = False
    assumed = False
    regions, _, facts = frame_regions(facts)
    for r in regions:
        behind = r.end is not None and _at_or_above(start, r.end, facts)
        if behind or _below(last, r.start, facts):
            continue  # provably behind or provably before the region
        if r.header == "unknown":
            lo = max(bounds(r.start, facts)[0], bounds(start, facts)[0])
            names.update(fields_in_span(lo, bounds(last, facts)[1]))
            key = key or r.key
            assumed = True  # named over LAYOUTS: the path did not say what is there
            continue
        rel_lo = sub(start, r.start)
        rel_hi = sub(last, r.start)
        in_fields = [f for f in FIELDS.values() if f.header == r.header]
        if not in_fields or rel_lo is None or rel_hi is None:
            names.add(r.header if not in_fields else f"{r.header}.*")
            key = key or r.key or r.header not in NOT_IN_FLOW_KEY
            if in_fields:  # a header hit somewhere unknown: all of it
                names.discard(f"{r.header}.*")
                hit = [f.name for f in in_fields]
                names.update(hit)
                key = key or any(n not in NOT_IN_FLOW_KEY for n in hit)
            continue
        lo = max(0, bounds(rel_lo, facts)[0])
        hi = bounds(rel_hi, facts)[1]
        exact = not rel_lo.terms and rel_lo.fixed and len(keep) == size
        for f in in_fields:
            if f.size is None:
                continue  # options are regions of their own
            if exact and all(not f.bits_of_byte(rel_lo.lo + i) & ~k for i, k in enumerate(keep)):
                continue  # every bit of the field the write reaches is kept
            if f.offset + f.size - 1 >= lo and (hi is None or f.offset <= hi):
                names.add(f.name)
                key = key or r.key or f.name not in NOT_IN_FLOW_KEY
    return Naming(frozenset(names), key, "assumed" if assumed else "proved")
