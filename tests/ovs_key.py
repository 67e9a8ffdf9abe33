"""The packet part of an OVS flow key, as OVS 3.1's miniflow_extract() (lib/flow.c) reads it.

An independent reading for the dynamic oracle: when the analyzer says a
program leaves the flow key alone, running it must not change this value.
Where OVS keys on bytes this module does not decode (ARP, MPLS, ICMPv6
neighbour discovery, anything else), it keeps the raw bytes: that can only
make the oracle stricter.
"""

from __future__ import annotations

import struct

_VLAN_TPIDS = (0x8100, 0x88A8)
_MAX_VLAN = 2  # FLOW_MAX_VLAN_HEADERS
_IPV6_EXT = {0, 43, 60, 51}  # hop-by-hop, routing, destination options, AH
_IPV6_FRAGMENT = 44


def flow_key(frame: bytes) -> tuple[object, ...]:
    """Every packet field OVS's flow key holds for ``frame``, in a comparable tuple."""
    if len(frame) < 14:
        return ("short", frame)
    key: list[object] = [frame[0:12]]
    pos = 12
    (eth_type,) = struct.unpack_from("!H", frame, pos)
    vlans = 0
    while eth_type in _VLAN_TPIDS and vlans < _MAX_VLAN and len(frame) >= pos + 6:
        key.append(frame[pos : pos + 4])  # TPID and TCI
        pos += 4
        (eth_type,) = struct.unpack_from("!H", frame, pos)
        vlans += 1
    key.append(eth_type)
    data = frame[pos + 2 :]
    if eth_type == 0x0800:
        key += _ipv4(data)
    elif eth_type == 0x86DD:
        key += _ipv6(data)
    else:
        key.append(data)  # ARP, MPLS, ...: OVS keys on some of these bytes
    return tuple(key)


def _ipv4(data: bytes) -> list[object]:
    if len(data) < 20:
        return []
    ihl = (data[0] & 0x0F) * 4
    (tot_len,) = struct.unpack_from("!H", data, 2)
    if ihl < 20 or len(data) < ihl or tot_len > len(data) or ihl > tot_len:
        return []  # ipv4_sanity_check() fails: no L3 key
    (frag,) = struct.unpack_from("!H", data, 6)
    later = frag & 0x1FFF != 0
    nw = [data[12:20], data[1], data[8], data[9], bool(frag & 0x3FFF), later]
    if later:
        return nw
    return nw + _l4(data[9], data[ihl:tot_len], v6=False)


def _ipv6(data: bytes) -> list[object]:
    if len(data) < 40:
        return []
    (plen,) = struct.unpack_from("!H", data, 4)
    if plen > len(data) - 40:
        return []
    key: list[object] = [data[8:40], data[0:4], data[7]]  # addresses, tc + label, hop limit
    nh, rest = data[6], data[40 : 40 + plen]
    while nh in _IPV6_EXT or nh == _IPV6_FRAGMENT:
        if len(rest) < 8:
            return [*key, nh, "truncated"]
        if nh == _IPV6_FRAGMENT:
            (off,) = struct.unpack_from("!H", rest, 2)
            key.append(("frag", off & 0xFFF9 != 0, bool(off & 1)))
            if off & 0xFFF8:
                return [*key, rest[0]]  # a later fragment: no L4
            nh, rest = rest[0], rest[8:]
            continue
        length = (rest[1] + 2) * 4 if nh == 51 else (rest[1] + 1) * 8
        if len(rest) < length:
            return [*key, nh, "truncated"]
        nh, rest = rest[0], rest[length:]
    key.append(nh)
    return key + _l4(nh, rest, v6=True)


def _l4(proto: int, data: bytes, v6: bool) -> list[object]:
    if proto == 6 and len(data) >= 20:
        (ctl,) = struct.unpack_from("!H", data, 12)
        return [data[0:4], ctl & 0x0FFF]
    if proto == 17 and len(data) >= 8:
        return [data[0:4]]
    if proto == 1 and not v6 and len(data) >= 4:
        return [data[0:2]]
    if proto in (6, 17, 1) or (proto == 58 and not v6):
        return []  # truncated: OVS keys on no L4 field
    return [data]  # ICMPv6 (neighbour discovery), SCTP, IGMP, ...: bytes OVS may key on
