"""The analyzer's field names in OVS's words (extframe/ovs/fields.py), and the
re-classification registration derives from them (extframe/ovs/registry.py).

Pure code: hand-built effects, and the captured programs of
tests/unit/data/logs analysed with their real verifier logs; one test (marked
``ovs``) asks the patched build's ovs-ofctl whether OVS knows each name. The
bundled actions, analysed on the kernel, are in tests/kernel/test_ovs_fields.py.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from analyzer.effects import LengthChange, MetadataWrite, PacketWrite, ProgramEffects
from analyzer.fields import ALL_NAMES, FIELDS, PAYLOAD
from analyzer.symbolic import IPV6_EXT, NOT_IN_FLOW_KEY
from extframe.errors import OvsError
from extframe.ovs.fields import (
    ND,
    ROWS,
    UNKNOWN,
    describe,
    ovs_basis,
    ovs_fields,
    ovs_names,
    write_basis,
)
from extframe.ovs.registry import reclassification
from extframe.ovs.switch import ovs_build
from tests.unit.test_effects import analyze_fixture

#: Every name the table may send, as ovs-fields(7) spells it (lib/meta-flow.xml).
OVS_FIELD_NAMES = {
    "dl_dst",
    "dl_src",
    "vlan_tci",
    "nw_src",
    "nw_dst",
    "nw_proto",
    "nw_tos",
    "nw_ecn",
    "nw_ttl",
    "ip_frag",
    "ipv6_src",
    "ipv6_dst",
    "ipv6_label",
    "tp_src",
    "tp_dst",
    "tcp_flags",
    "nd_target",
    "nd_sll",
    "nd_tll",
    "nd_reserved",
    "nd_options_type",
    "pkt_mark",
    "skb_priority",
}

#: Every name the analyzer reports for a packet write or a declaration.
ANALYZER_NAMES = ALL_NAMES | {IPV6_EXT}


# --- the table ---------------------------------------------------------------------


def test_every_analyzer_name_has_a_row_or_is_outside_the_flow_key() -> None:
    missing = sorted(n for n in ANALYZER_NAMES if n not in ROWS and n not in NOT_IN_FLOW_KEY)
    assert missing == [], f"add rows to extframe/ovs/fields.py for {missing}"
    assert not set(ROWS) & NOT_IN_FLOW_KEY  # one or the other, never both
    assert set(ROWS) <= ANALYZER_NAMES, set(ROWS) - ANALYZER_NAMES  # no stale row


def test_every_row_names_real_ovs_fields_and_never_nothing() -> None:
    for name, row in ROWS.items():
        assert row, f"{name} maps to nothing: a field in the key maps to a wider set"
        assert set(row) <= OVS_FIELD_NAMES | {UNKNOWN}, (name, set(row) - OVS_FIELD_NAMES)
        assert UNKNOWN not in row or row == (UNKNOWN,), name


@pytest.mark.ovs
def test_ovs_knows_every_name_of_the_table() -> None:
    """mf_from_name() accepts each name the table sends (ovs-ofctl, in the patched build)."""
    try:
        ofctl = ovs_build() / "install" / "bin" / "ovs-ofctl"
    except OvsError as e:
        pytest.skip(str(e))
    names = {o for row in ROWS.values() for o in row} - {UNKNOWN}
    assert names <= OVS_FIELD_NAMES
    for name in sorted(OVS_FIELD_NAMES):
        done = subprocess.run(
            [str(ofctl), "parse-flow", f"actions=load:0->{name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "unknown field" not in done.stderr, (name, done.stderr)
    bogus = subprocess.run(
        [str(ofctl), "parse-flow", "actions=load:0->ip_ttl_x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "unknown field" in bogus.stderr  # the check can fail


@pytest.mark.parametrize(
    ("name", "ovs"),
    [
        ("ip.ttl", ("nw_ttl",)),
        ("ipv6.hop_limit", ("nw_ttl",)),
        ("ip.tos", ("nw_tos", "nw_ecn")),
        ("eth.type", (UNKNOWN,)),
        ("ip.ihl", (UNKNOWN,)),
        ("icmp.type", ("tp_src", *ND)),
        ("ip.csum", ()),
        (PAYLOAD, ()),
        ("meta.mark", ("pkt_mark",)),
        ("length", (UNKNOWN,)),
        ("ip.colour", (UNKNOWN,)),  # a name the table lacks widens, never narrows
    ],
)
def test_a_name_maps_to_its_row(name: str, ovs: tuple[str, ...]) -> None:
    assert ovs_names(name) == ovs


# --- one write ---------------------------------------------------------------------


def write(fields: list[str], flow_key: bool = True, layout: Any = "proved") -> PacketWrite:
    return PacketWrite(
        insn=1,
        offset_min=22,
        offset_max=22,
        size=1,
        fields=fields,
        flow_key=flow_key,
        source=None,
        via="store",
        evidence=["static"],
        layout=layout,
    )


@pytest.mark.parametrize(
    ("w", "basis"),
    [
        (write(["ip.csum"], flow_key=False), {}),
        (write(["ip.ttl"]), {"nw_ttl": {"ip.ttl"}}),
        (write(["ip.csum", "ip.ttl"]), {"nw_ttl": {"ip.ttl"}}),
        # The same bytes named on an assumed layout: OVS's fields may be any.
        (
            write(["ip.ttl", "ipv6.payload_len"], layout="assumed"),
            {UNKNOWN: {"ip.ttl", "ipv6.payload_len"}},
        ),
        (write(["ip.csum"], flow_key=False, layout="assumed"), {}),
        # ICMPv6 neighbour discovery: its target and options are in the key.
        (write([PAYLOAD]), {n: {PAYLOAD} for n in ND}),
        (write(["icmp.rest"]), {n: {"icmp.rest"} for n in ND}),
        (write([PAYLOAD], flow_key=False), {}),
        # In the key, yet no row says where: everything.
        (write(["ip.options"]), {UNKNOWN: {"ip.options"}}),
    ],
)
def test_one_write_maps_by_its_key_layout_and_names(
    w: PacketWrite, basis: dict[str, set[str]]
) -> None:
    assert write_basis(w) == basis


# --- a program ---------------------------------------------------------------------


def effects(
    verdict: Any = "writes",
    writes: list[PacketWrite] | None = None,
    metadata: list[str] | None = None,
    lengths: int = 0,
    pulls: int = 0,
) -> ProgramEffects:
    """``lengths`` calls that move bytes (vlan_push), ``pulls`` that only
    invalidate pointers (pull_data)."""
    writes = writes or []
    meta = [
        MetadataWrite(
            field=m,
            insn=2,
            source=None,
            via="store",
            classifier_visible=m.endswith(("mark", "priority")),
        )
        for m in metadata or []
    ]
    return ProgramEffects(
        object="x.o",
        program="x",
        section="tc",
        type="tc",
        verdict=verdict,
        flow_key_affected=verdict == "unknown"
        or bool(lengths)
        or any(w.flow_key for w in writes)
        or any(m.classifier_visible for m in meta),
        reasons=[],
        packet_writes=writes,
        metadata_writes=meta,
        length_changes=[LengthChange(insn=3, helper="bpf_skb_vlan_push", source=None)] * lengths
        + [LengthChange(insn=4, helper="bpf_skb_pull_data", source=None, moves_bytes=False)]
        * pulls,
        static_verdict=verdict,
        insn_count=10,
    )


@pytest.mark.parametrize(
    ("e", "fields", "mode"),
    [
        (effects("read_only"), [], "no"),
        (
            effects(writes=[write(["ip.csum"], flow_key=False), write([PAYLOAD], flow_key=False)]),
            [],
            "no",
        ),
        (effects(metadata=["meta.cb"]), [], "no"),  # metadata OVS never sees again
        (effects(writes=[write(["ip.ttl"]), write(["ipv6.hop_limit"])]), ["nw_ttl"], "lazy"),
        (
            effects(writes=[write(["ip.src"]), write(["tcp.src"]), write(["udp.src"])]),
            ["nw_src", "tp_src"],
            "lazy",
        ),
        (effects(metadata=["meta.mark", "meta.priority"]), ["pkt_mark", "skb_priority"], "lazy"),
        (effects(writes=[write(["ip.ttl"]), write(["eth.type"])]), [UNKNOWN], "lazy"),
        (
            effects(writes=[write(["ip.ttl"]), write(["ip.ttl"], layout="assumed")]),
            [UNKNOWN],
            "lazy",
        ),
        (effects(writes=[write(["eth.dst"])], lengths=1), [UNKNOWN], "lazy"),
        # pull_data leaves the bytes: the writes alone say what changed
        (effects(writes=[write(["eth.dst"])], pulls=1), ["dl_dst"], "lazy"),
        (effects(writes=[write([PAYLOAD], flow_key=False)], pulls=1), [], "no"),
        (effects("unknown"), [UNKNOWN], "lazy"),
    ],
)
def test_a_program_maps_to_the_union_of_its_writes(
    e: ProgramEffects, fields: list[str], mode: str
) -> None:
    assert ovs_fields(e) == fields
    assert reclassification(e) == (mode, ovs_basis(e))
    # Forced: right after the action, fields= still what the proof found.
    assert reclassification(e, force=True) == ("yes", ovs_basis(e))
    assert bool(fields) == e.flow_key_affected


def test_the_basis_says_which_analyzer_names_each_ovs_field_stands_for() -> None:
    e = effects(writes=[write(["ip.tos"]), write(["ipv6.tc"]), write(["ip.ttl", "ip.csum"])])
    assert ovs_basis(e) == {
        "nw_ecn": ["ip.tos", "ipv6.tc"],
        "nw_tos": ["ip.tos", "ipv6.tc"],
        "nw_ttl": ["ip.ttl"],
    }
    assert describe(ovs_basis(e)) == "nw_ecn, nw_tos (ip.tos, ipv6.tc), nw_ttl (ip.ttl)"
    assert ovs_basis(effects(writes=[write(["eth.dst"])], lengths=1)) == {UNKNOWN: ["length"]}
    assert describe({UNKNOWN: [UNKNOWN]}) == UNKNOWN
    many = {UNKNOWN: sorted(FIELDS)[:9]}
    assert describe(many).endswith(", +3 more)")


def test_the_flow_key_flag_is_never_outvoted() -> None:
    # Should the analyzer say the key may change while no write or metadata
    # says how, the switch is told every field.
    e = effects("read_only").model_copy(update={"flow_key_affected": True})
    assert ovs_fields(e) == [UNKNOWN]


# --- captured programs, with their verifier logs ---------------------------------------


@pytest.mark.parametrize(
    ("stem", "fields"),
    [
        ("action_dec_ttl", ["nw_ttl"]),  # ip.ttl, ipv6.hop_limit; ip.csum is not in the key
        ("action_port_counter", []),  # read-only
        ("spill_fill", [UNKNOWN]),  # eth.type: every later header parses anew
        ("fixed_write", [UNKNOWN]),  # byte 22 with no ethertype checked: assumed names
    ],
)
def test_captured_programs(stem: str, fields: list[str]) -> None:
    assert ovs_fields(analyze_fixture(stem).effects) == fields
