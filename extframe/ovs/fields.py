"""OVS's names for what an action was proved to write: the one mapping table.

The analyzer names the fields a write hits in its own words
(analyzer/fields.py: ``ip.ttl``, ``tcp.dst``, ``meta.mark``, ``length``);
``ovs-appctl bpf/add NAME PATH reclassify=lazy fields=LIST`` takes OVS's,
as ovs-fields(7) spells them (any name ``mf_from_name()`` accepts), and the
switch recirculates only before the first step that may observe one of
them. ``ROWS`` says, for each analyzer name, which fields of OVS's flow key
a change of it may change (lib/flow.c: ``miniflow_extract()``). A field with
no exact counterpart maps to a wider set, never to nothing; one that changes
how later headers are parsed maps to ``unknown``: every field.

Names in ``NOT_IN_FLOW_KEY`` (analyzer/symbolic.py: checksums, ``ip.id``,
``tcp.seq``, payload ...) map to nothing, except where the analyzer marks
such a write as in the key: ICMPv6 neighbour discovery puts its target and
options, behind the ICMP header, in OVS's key (``parse_icmpv6()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from analyzer.effects import PacketWrite, ProgramEffects
from analyzer.fields import LENGTH, PAYLOAD
from analyzer.symbolic import IPV6_EXT, NOT_IN_FLOW_KEY

#: ``fields=unknown``: every field of the flow key.
UNKNOWN = "unknown"

#: What lib/flow.c's parse_icmpv6() keys on for neighbour solicitations and
#: advertisements: whether it parses them at all depends on the ICMPv6 type,
#: code and next header, and their bytes follow the ICMPv6 header.
ND = ("nd_target", "nd_sll", "nd_tll", "nd_reserved", "nd_options_type")

#: The ports (and ICMP type and code) and TCP flags: OVS reads them only
#: for a first fragment of a protocol it parses.
_L4 = ("tp_src", "tp_dst", "tcp_flags")

#: Analyzer names whose bytes carry neighbour discovery's target and
#: options when the analyzer says the write is in the key.
_ND_CARRIERS = frozenset({"icmp.rest", PAYLOAD})

#: Analyzer field name -> the OVS fields a change of it may change.
ROWS: dict[str, tuple[str, ...]] = {
    "eth.dst": ("dl_dst",),
    "eth.src": ("dl_src",),
    "eth.type": (UNKNOWN,),  # decides how every later header parses
    "vlan.tci": ("vlan_tci",),  # the switch widens it to both tags
    "vlan.type": (UNKNOWN,),
    # ipv4_sanity_check() and the L4 header's position follow version, IHL
    # and total length: L3 and L4 fields may all change.
    "ip.version": (UNKNOWN,),
    "ip.ihl": (UNKNOWN,),
    "ip.len": (UNKNOWN,),
    "ip.tos": ("nw_tos", "nw_ecn"),
    "ip.ttl": ("nw_ttl",),
    "ip.proto": ("nw_proto", *_L4),
    "ip.frag": ("ip_frag", *_L4),
    "ip.src": ("nw_src",),
    "ip.dst": ("nw_dst",),
    "ipv6.version": (UNKNOWN,),
    "ipv6.payload_len": (UNKNOWN,),
    "ipv6.tc": ("nw_tos", "nw_ecn"),
    "ipv6.flow_label": ("ipv6_label",),
    # The next header chain decides the protocol, the fragment state and
    # whether an ICMPv6 header (and neighbour discovery) is parsed.
    "ipv6.next_header": ("nw_proto", "ip_frag", *_L4, *ND),
    IPV6_EXT: ("nw_proto", "ip_frag", *_L4, *ND),
    "ipv6.hop_limit": ("nw_ttl",),
    "ipv6.src": ("ipv6_src",),
    "ipv6.dst": ("ipv6_dst",),
    "tcp.src": ("tp_src",),
    "tcp.dst": ("tp_dst",),
    # In the flags' 16-bit word; OVS keys the flags of it, the nearest field.
    "tcp.data_offset": ("tcp_flags",),
    "tcp.flags": ("tcp_flags",),
    "udp.src": ("tp_src",),
    "udp.dst": ("tp_dst",),
    # OVS keys ICMP type and code as tp_src and tp_dst; on ICMPv6 they decide
    # whether it parses neighbour discovery.
    "icmp.type": ("tp_src", *ND),
    "icmp.code": ("tp_dst", *ND),
    "meta.mark": ("pkt_mark",),
    "meta.priority": ("skb_priority",),
    LENGTH: (UNKNOWN,),
}


def ovs_names(name: str) -> tuple[str, ...]:
    """The OVS fields a change of analyzer field ``name`` may change.

    Nothing for a field outside the flow key; ``unknown`` for a name the
    table lacks, so that a new analyzer name can only widen the answer.
    """
    if name in ROWS:
        return ROWS[name]
    if name in NOT_IN_FLOW_KEY:
        return ()
    return (UNKNOWN,)


def write_basis(write: PacketWrite) -> dict[str, set[str]]:
    """The OVS fields one packet write may change, each with the write's names behind it.

    Names from a layout the path only assumed say nothing of OVS's fields
    (on an ARP frame the bytes of ``ip.ttl`` are the sender's address):
    such a write may change any of them.
    """
    if not write.flow_key:
        return {}
    if write.layout == "assumed":
        return {UNKNOWN: set(write.fields)}
    out: dict[str, set[str]] = {}
    for name in write.fields:
        ovs = ovs_names(name)
        if name in _ND_CARRIERS:
            ovs = ND
        for o in ovs:
            out.setdefault(o, set()).add(name)
    return out or {UNKNOWN: set(write.fields)}  # in the key, yet no row names it: everything


def ovs_basis(effects: ProgramEffects) -> dict[str, list[str]]:
    """Each OVS field the action may change, with the analyzer names behind it.

    ``{"unknown": [...]}`` alone when any of them is unknown (with what made
    it so): the switch is then told every field, whatever else was named.
    """
    if effects.verdict == "unknown":
        return {UNKNOWN: [UNKNOWN]}
    # After a call that moves bytes, every write is named on an assumed layout
    # too; one that only invalidates pointers (pull_data) leaves the bytes.
    if any(c.moves_bytes for c in effects.length_changes):
        return {UNKNOWN: [LENGTH]}
    basis: dict[str, set[str]] = {}
    for w in effects.packet_writes:
        for o, names in write_basis(w).items():
            basis.setdefault(o, set()).update(names)
    for m in effects.metadata_writes:
        if m.classifier_visible:
            for o in ovs_names(m.field):
                basis.setdefault(o, set()).add(m.field)
    if effects.flow_key_affected and not basis:  # the analyzer's word wins: everything
        basis[UNKNOWN] = set()
    if UNKNOWN in basis:
        return {UNKNOWN: sorted(basis[UNKNOWN])}
    return {o: sorted(basis[o]) for o in sorted(basis)}


def ovs_fields(effects: ProgramEffects) -> list[str]:
    """The ``fields=`` of bpf/add: OVS field names, sorted; ``["unknown"]``; or none."""
    return list(ovs_basis(effects))


def describe(basis: Mapping[str, Sequence[str]], *, most: int = 6) -> str:
    """``nw_ecn, nw_tos (ip.tos, ipv6.tc), nw_ttl (ip.ttl)``: OVS names with the
    analyzer names behind them, OVS names that share those grouped."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for o in sorted(basis):
        groups.setdefault(tuple(sorted(basis[o])), []).append(o)
    return ", ".join(
        ", ".join(ovs) + (f" ({listed(why, most=most)})" if why and list(why) != ovs else "")
        for why, ovs in groups.items()
    )


def listed(names: Sequence[str], *, most: int = 6) -> str:
    """``a, b, c, +4 more``: at most ``most`` of ``names``."""
    more = f", +{len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
