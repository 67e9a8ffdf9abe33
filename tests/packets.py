"""Deterministic, varied Ethernet frames for a dynamic oracle.

``generate(seed, count)`` builds ``count`` frames with scapy from
``random.Random(seed)``: the same seed always gives the same bytes. The mix
covers what actions and the analyzer meet: IPv4 TCP/UDP/ICMP (TTL 0, 1 and
255 among random ones, ECN-capable TOS values, IP and TCP options, fragments,
destination port 4242, payloads of 0 to 300 bytes), 802.1Q and QinQ tagged
IPv4, IPv6 TCP/UDP/ICMPv6 (sometimes behind a hop-by-hop header), ARP, an
unknown ethertype, and short frames of 14 to 33 bytes.

Every frame is one that ``BPF_PROG_TEST_RUN`` accepts for a tc program. The
kernel (since upstream 12bec2bd4b76, in 6.18) returns EINVAL when the
ethertype is 0x0800 with fewer than 20 bytes after the Ethernet header, or
0x86dd with fewer than 40 (the ethertype of a tagged frame is 0x8100/0x88a8,
so tagged frames of any length pass), and for frames over about 3.7 KB. IP
frames here are whole packets, short frames never carry an IP ethertype
directly, and no frame is longer than about 450 bytes.

``write_offsets(before, after)`` lists the byte offsets an action changed.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable

from scapy.layers.inet import (
    ICMP,
    IP,
    TCP,
    UDP,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPOption_RR,
)
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

#: The destination port some test actions single out.
RARE_PORT = 4242
#: Ethertypes nothing in the project parses (local experimental, ...).
UNKNOWN_ETHERTYPES = (0x88B5, 0x88B6, 0x1234, 0x9000)
ETH_HLEN = 14
#: Shortest frames with an IP ethertype that BPF_PROG_TEST_RUN accepts.
MIN_IPV4_FRAME = ETH_HLEN + 20
MIN_IPV6_FRAME = ETH_HLEN + 40


def generate(seed: int, count: int) -> list[bytes]:
    """`count` varied Ethernet frames, the same for the same seed."""
    return [frame for _, frame in generate_named(seed, count)]


def generate_named(seed: int, count: int) -> list[tuple[str, bytes]]:
    """Like ``generate``, with the kind of each frame (``"ipv4_tcp"``, ...)."""
    rng = random.Random(seed)
    kinds = [k for k, _, _ in _KINDS]
    weights = [w for _, w, _ in _KINDS]
    builders = {k: b for k, _, b in _KINDS}
    out = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        frame = builders[kind](rng)
        _check_accepted(kind, frame)
        out.append((kind, frame))
    return out


def write_offsets(before: bytes, after: bytes) -> set[int]:
    """Offsets that differ over the common length, plus every offset past the
    shorter frame when the lengths differ."""
    common = min(len(before), len(after))
    changed = {i for i in range(common) if before[i] != after[i]}
    changed.update(range(common, max(len(before), len(after))))
    return changed


# Field values


def _mac(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.05:
        return "ff:ff:ff:ff:ff:ff"
    first = rng.randrange(256)
    first = first | 0x01 if r < 0.15 else first & ~0x01  # some multicast
    rest = [rng.randrange(256) for _ in range(5)]
    return ":".join(f"{b:02x}" for b in [first, *rest])


def _ipv4_addr(rng: random.Random) -> str:
    return str(ipaddress.IPv4Address(rng.getrandbits(32)))


def _ipv6_addr(rng: random.Random) -> str:
    return str(ipaddress.IPv6Address(rng.getrandbits(128)))


def _ttl(rng: random.Random) -> int:
    return rng.choice((0, 1, 2, 64, 128, 255, rng.randrange(256)))


def _tos(rng: random.Random) -> int:
    """DSCP and ECN; ECT(0) (2) and ECT(1) (1) are as likely as Not-ECT."""
    dscp = rng.choice((0, 0, 10, 46, rng.randrange(64)))
    ecn = rng.choice((0, 1, 2, 3))
    return dscp << 2 | ecn


def _port(rng: random.Random) -> int:
    return rng.choice((rng.randrange(1, 1024), rng.randrange(1024, 65536), 80, 443, 53))


def _dport(rng: random.Random) -> int:
    return RARE_PORT if rng.random() < 0.15 else _port(rng)


def _payload(rng: random.Random) -> bytes:
    n = rng.choice((0, rng.randrange(1, 64), rng.randrange(0, 301)))
    return rng.randbytes(n)


def _ether(rng: random.Random, ethertype: int | None = None) -> Packet:
    eth = Ether(dst=_mac(rng), src=_mac(rng))
    if ethertype is not None:
        eth.type = ethertype
    return eth


# L4


def _tcp(rng: random.Random) -> Packet:
    tcp = TCP(
        sport=_port(rng),
        dport=_dport(rng),
        seq=rng.getrandbits(32),
        ack=rng.getrandbits(32),
        flags=rng.choice(("S", "SA", "A", "PA", "FA", "R", "RA")),
        window=rng.randrange(65536),
    )
    if rng.random() < 0.3:
        options: list[tuple[str, object]] = []
        if rng.random() < 0.7:
            options.append(("MSS", rng.choice((536, 1460, 8960))))
        if rng.random() < 0.5:
            options.append(("SAckOK", b""))
        if rng.random() < 0.5:
            options.append(("Timestamp", (rng.getrandbits(32), rng.getrandbits(32))))
        if rng.random() < 0.5:
            options += [("NOP", None), ("WScale", rng.randrange(15))]
        tcp.options = options or [("NOP", None), ("NOP", None), ("EOL", None)]
    return tcp


def _udp(rng: random.Random) -> Packet:
    return UDP(sport=_port(rng), dport=_dport(rng))


def _icmp(rng: random.Random) -> Packet:
    typ, code = rng.choice(((8, 0), (0, 0), (3, 3), (11, 0), (5, 1)))
    return ICMP(type=typ, code=code, id=rng.randrange(65536), seq=rng.randrange(65536))


# L3


def _ip(rng: random.Random, l4: Packet) -> Packet:
    ip = IP(
        src=_ipv4_addr(rng),
        dst=_ipv4_addr(rng),
        ttl=_ttl(rng),
        tos=_tos(rng),
        id=rng.randrange(65536),
    )
    r = rng.random()
    if r < 0.05:
        ip.flags = "MF"  # a first fragment: L4 header present
    elif r < 0.08:
        ip.frag = rng.randrange(1, 1000)  # a later fragment: no L4 header
    elif r < 0.15:
        ip.flags = "DF"
    if rng.random() < 0.25:
        options: list[Packet] = [IPOption_NOP() for _ in range(rng.randrange(4))]
        if rng.random() < 0.5:
            routers = [_ipv4_addr(rng) for _ in range(rng.randrange(1, 6))]
            options.append(IPOption_RR(routers=routers))
        if rng.random() < 0.5:
            options.append(IPOption_Router_Alert())
        ip.options = options or [IPOption_NOP()]  # scapy pads to 4 bytes
    pkt: Packet = ip / l4 / Raw(_payload(rng))
    return pkt


def _ipv6(rng: random.Random, l4: Packet) -> Packet:
    ip6 = IPv6(
        src=_ipv6_addr(rng),
        dst=_ipv6_addr(rng),
        hlim=_ttl(rng),
        tc=_tos(rng),
        fl=rng.choice((0, rng.getrandbits(20))),
    )
    if rng.random() < 0.25:
        ip6 = ip6 / IPv6ExtHdrHopByHop()
    pkt: Packet = ip6 / l4 / Raw(_payload(rng))
    return pkt


def _icmpv6(rng: random.Random) -> Packet:
    cls = rng.choice((ICMPv6EchoRequest, ICMPv6EchoReply))
    icmp: Packet = cls(id=rng.randrange(65536), seq=rng.randrange(65536))
    return icmp


# Frames


def _frame(pkt: Packet) -> bytes:
    return bytes(pkt)


def _ipv4_frame(l4: Callable[[random.Random], Packet]) -> Callable[[random.Random], bytes]:
    def build(rng: random.Random) -> bytes:
        frame = _frame(_ether(rng) / _ip(rng, l4(rng)))
        if rng.random() < 0.1 and len(frame) < 60:
            frame += bytes(60 - len(frame))  # Ethernet padding after the IP packet
        return frame

    return build


def _ipv6_frame(l4: Callable[[random.Random], Packet]) -> Callable[[random.Random], bytes]:
    def build(rng: random.Random) -> bytes:
        return _frame(_ether(rng) / _ipv6(rng, l4(rng)))

    return build


def _vlan_frame(rng: random.Random) -> bytes:
    l4 = rng.choice((_tcp, _udp, _icmp))
    inner = _ip(rng, l4(rng))
    tag = Dot1Q(vlan=rng.randrange(4096), prio=rng.randrange(8), dei=rng.randrange(2))
    if rng.random() < 0.3:
        outer = Dot1AD(vlan=rng.randrange(4096), prio=rng.randrange(8))
        return _frame(_ether(rng) / outer / tag / inner)
    return _frame(_ether(rng) / tag / inner)


def _arp_frame(rng: random.Random) -> bytes:
    return _frame(
        _ether(rng)
        / ARP(
            op=rng.choice((1, 2)),
            hwsrc=_mac(rng),
            psrc=_ipv4_addr(rng),
            hwdst=_mac(rng),
            pdst=_ipv4_addr(rng),
        )
    )


def _unknown_frame(rng: random.Random) -> bytes:
    n = rng.randrange(0, 301)
    return _frame(_ether(rng, ethertype=rng.choice(UNKNOWN_ETHERTYPES)) / Raw(rng.randbytes(n)))


def _short_frame(rng: random.Random) -> bytes:
    """14 to 33 bytes: ARP, an unknown ethertype, or a VLAN tag (maybe cut)
    announcing IPv4, whose outer ethertype the kernel does not check."""
    n = rng.randrange(0, 20)
    ethertype = rng.choice((0x0806, 0x8100, 0x88A8, *UNKNOWN_ETHERTYPES))
    head = _frame(_ether(rng, ethertype=ethertype))
    if ethertype in (0x8100, 0x88A8):
        tag = rng.randrange(1 << 16).to_bytes(2, "big") + b"\x08\x00"
        body = (tag + rng.randbytes(n))[:n]
    else:
        body = rng.randbytes(n)
    return head + body


_KINDS: list[tuple[str, float, Callable[[random.Random], bytes]]] = [
    ("ipv4_tcp", 18, _ipv4_frame(_tcp)),
    ("ipv4_udp", 14, _ipv4_frame(_udp)),
    ("ipv4_icmp", 7, _ipv4_frame(_icmp)),
    ("vlan_ipv4", 10, _vlan_frame),
    ("ipv6_tcp", 9, _ipv6_frame(_tcp)),
    ("ipv6_udp", 7, _ipv6_frame(_udp)),
    ("ipv6_icmp", 5, _ipv6_frame(_icmpv6)),
    ("arp", 7, _arp_frame),
    ("unknown", 6, _unknown_frame),
    ("short", 12, _short_frame),
]


def _check_accepted(kind: str, frame: bytes) -> None:
    """Guards the BPF_PROG_TEST_RUN rule (module docstring) against edits."""
    ethertype = int.from_bytes(frame[12:14], "big")
    ok = len(frame) >= ETH_HLEN and not (
        (ethertype == 0x0800 and len(frame) < MIN_IPV4_FRAME)
        or (ethertype == 0x86DD and len(frame) < MIN_IPV6_FRAME)
    )
    if not ok:
        raise AssertionError(f"{kind}: {len(frame)}-byte frame the kernel would refuse")
