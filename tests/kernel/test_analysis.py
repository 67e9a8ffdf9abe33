"""The analyzer on real programs loaded into the real kernel, and its dynamic oracle.

tests/kernel/progs/effects/ holds one small program per way to write a
packet and read-only programs that look suspicious. Each is checked through
``extframe.check.check_file`` (build, load with a level-2 log, static
analysis, combination) against the table below. The oracle then runs every
crafted program and every action of actions/ on generated packets with
BPF_PROG_TEST_RUN: no byte outside the reported write set may change, and a
``read_only`` program may change no byte and no metadata.

A crafted program built on a construct some kernels refuse (``NEEDS``) is
tested by what this kernel does with the construct's probe: where it accepts
it, as its row says; where it refuses it, the program must be refused too
and ``extframe check`` must say so, with the verifier's reason, in every
format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analyzer.fields import fields_in_span
from extframe.build import build
from extframe.errors import VerifierError
from extframe.kernel.loader import load_object
from extframe.kernel.testrun import RunInput, run
from extframe.packet import diff
from extframe.vectors import VectorFile, apply_setup, vectors_path
from tests.conftest import ACTIONS, ROOT, Outcomes, cli, outcome_of
from tests.kernel.probes import Probes
from tests.ovs_key import flow_key
from tests.packets import generate, write_offsets

pytestmark = pytest.mark.kernel
EFFECTS = ROOT / "tests" / "kernel" / "progs" / "effects"
PROGS = ROOT / "tests" / "kernel" / "progs"


@dataclass(frozen=True)
class Expect:
    verdict: str
    writes: set[tuple[int, int | None, str]] = field(default_factory=set)  # (min, max, via)
    metadata: set[str] = field(default_factory=set)
    length: set[str] = field(default_factory=set)
    flow_key: bool = True
    # Instructions where the verifier's types cannot show a packet write
    # that the static analysis sees (dynptr slices are "mem" to the verifier).
    disagree: set[int] = field(default_factory=set)


TABLE: dict[str, Expect] = {
    # direct stores
    "store_fixed": Expect("writes", {(22, 22, "store")}),
    "store_variable": Expect("writes", {(34, 74, "store")}),  # 14 + ihl * 4
    "memcpy_mac": Expect("writes", {(i, i, "store") for i in range(12)}),
    # bpf_fib_lookup writes its stack struct only; the MACs come from it
    "fib_forward": Expect("writes", {(i, i, "store") for i in range(12)}),
    "spill_fill": Expect("writes", {(1, 1, "store")}),
    "subprog_write": Expect("writes", {(15, 15, "store")}),
    "ttl_subprog": Expect("writes", {(22, 22, "store")}),
    "global_write": Expect("writes", {(12, 12, "store")}),
    "rare_branch": Expect("writes", {(22, 22, "store")}),
    "xdp_store": Expect("writes", {(0, 0, "store"), (1, 1, "store")}),
    # helpers that write bytes
    "helper_store_bytes": Expect("writes", {(0, 5, "skb_store_bytes")}, {"meta.csum", "meta.hash"}),
    # ip.csum of an untagged IPv4 frame, whatever its IHL: not in the flow key.
    "helper_l3_csum": Expect("writes", {(24, 25, "l3_csum_replace")}, flow_key=False),
    # tcp.csum (and, the data offset unchecked, maybe payload): not in the flow key.
    "helper_l4_csum": Expect(
        "writes", {(50, 51, "l4_csum_replace")}, {"meta.csum"}, flow_key=False
    ),
    "ecn_set_ce": Expect("writes", {(14, 25, "skb_ecn_set_ce")}),
    "ecn_ipv4": Expect("writes", {(14, 25, "skb_ecn_set_ce")}),
    "ecn_vlan": Expect("writes", {(14, 25, "skb_ecn_set_ce")}),
    "xdp_store_bytes": Expect("writes", {(6, 7, "xdp_store_bytes")}),
    "dynptr_slice_write": Expect(
        "writes", {(20, 23, "bpf_dynptr_slice_rdwr"), (22, 22, "store")}, disagree={14}
    ),
    # stores that keep some bits of the byte they write (field-level names)
    "bits_tc_keep": Expect("writes", {(14, 14, "store"), (15, 15, "store")}),
    "bits_version_clobber": Expect("writes", {(14, 14, "store")}),
    "bits_wrong_byte": Expect("writes", {(14, 14, "store")}),
    # a position computed from the IHL, used after the IHL was written
    "stale_position": Expect("writes", {(14, 14, "store"), (50, 90, "store"), (51, 91, "store")}),
    # guards for naming positions behind IPv6 extension-header chains (issue 4):
    # each parses like payload_scrub but writes a field in the flow key
    "v6ext_before_l4": Expect("writes", {(0, None, "store")}),
    "v6ext_tcp_port": Expect("writes", {(0, None, "store")}),
    # a global function: the verifier's span is its, for any offset
    "v6ext_global_port": Expect("writes", {(2, 32770, "store")}),
    # payload_scrub's shape without extension headers: named from the callers
    "global_udp_port": Expect("writes", {(2, 258, "store")}),
    "global_two_callers": Expect("writes", {(0, 255, "store")}),
    # a counted loop ending on "!=": its last turn writes a flow-key byte
    "loop_ne_bound": Expect("writes", {(38, None, "store")}),
    # length and layout
    "change_tail": Expect("writes", length={"bpf_skb_change_tail"}),
    "helper_vlan_push": Expect(
        "writes", metadata={"meta.vlan", "meta.protocol"}, length={"bpf_skb_vlan_push"}
    ),
    "vlan_push_twice": Expect(
        "writes", metadata={"meta.vlan", "meta.protocol"}, length={"bpf_skb_vlan_push"}
    ),
    # metadata
    "meta_mark_priority": Expect("writes", metadata={"meta.mark", "meta.priority"}),
    "meta_cb": Expect("writes", metadata={"meta.cb"}, flow_key=False),
    # found by an adversarial review: each was called read_only (or given too
    # narrow a span) before the analysis learnt the rule in its comment
    "sneaky_helper_stack": Expect("writes", metadata={"meta.mark"}),
    "sneaky_helper_offset": Expect("writes", {(0, 63, "store")}),
    "sneaky_uninit_stack": Expect("writes", metadata={"meta.mark"}),
    "sneaky_ksym": Expect("writes", metadata={"meta.mark"}),
    "sneaky_rsh": Expect("writes", metadata={"meta.mark"}),
    "xdp_adjust_head": Expect("writes", {(0, None, "store")}, length={"bpf_xdp_adjust_head"}),
    # beyond L4: a variable offset into the UDP payload, the ICMP payload
    "payload_var": Expect("writes", {(42, 145, "store")}, flow_key=False),
    "icmp_payload": Expect("writes", {(i, i + 40, "store") for i in range(42, 46)}, flow_key=False),
    # the metadata area in front of the frame: no flow-key byte, no length
    "xdp_meta_write": Expect(
        "writes", metadata={"meta.data_meta"}, length={"bpf_xdp_adjust_meta"}, flow_key=False
    ),
    # read-only, though they look like writers
    "ro_stack_copy": Expect("read_only", flow_key=False),
    "ro_map_value": Expect("read_only", flow_key=False),
    "ro_load_bytes": Expect("read_only", flow_key=False),
    "ro_csum_diff": Expect("read_only", flow_key=False),
    "ro_map_update_by_header": Expect("read_only", flow_key=False),
    "ro_spill_pointer": Expect("read_only", flow_key=False),
    "ro_subprog_reads": Expect("read_only", flow_key=False),
}
#: The packet fields each crafted program's writes may hit, exactly: on the
#: frame layouts its paths allow, the union of what each write can change
#: (read from its source, not from the analyzer). A program whose paths fix
#: no layout hits a byte's field on every layout (subprog_write's byte 15).
FIELDS: dict[str, set[str]] = {
    "bits_tc_keep": {"ipv6.tc"},
    "bits_version_clobber": {"ipv6.tc", "ipv6.version"},
    "bits_wrong_byte": {"ipv6.tc", "ipv6.version"},
    "change_tail": set(),
    "ecn_ipv4": {"ip.csum", "ip.tos"},
    # untagged: ip.tos, ip.csum or ipv6.tc; behind a tag the kernel's network
    # header stays at 14: the TCI, and the inner ip.frag (ip.len under QinQ)
    "ecn_set_ce": {"ip.csum", "ip.frag", "ip.len", "ip.tos", "ipv6.tc", "vlan.tci"},
    "ecn_vlan": {"ip.frag", "vlan.tci"},
    "fib_forward": {"eth.dst", "eth.src"},
    "global_two_callers": {"payload", "udp.src"},
    "global_udp_port": {"udp.dst"},
    "global_write": {"eth.type"},
    "helper_l3_csum": {"ip.csum"},
    "helper_l4_csum": {"tcp.csum"},
    "helper_store_bytes": {"eth.dst"},
    "helper_vlan_push": set(),
    "icmp_payload": {"payload"},
    "loop_ne_bound": {"tcp.ack", "tcp.data_offset", "tcp.flags", "tcp.seq"},
    "memcpy_mac": {"eth.dst", "eth.src"},
    "meta_cb": set(),
    "meta_mark_priority": set(),
    "payload_var": {"payload"},
    "rare_branch": {"ip.ttl"},
    "ro_csum_diff": set(),
    "ro_load_bytes": set(),
    "ro_map_update_by_header": set(),
    "ro_map_value": set(),
    "ro_spill_pointer": set(),
    "ro_stack_copy": set(),
    "ro_subprog_reads": set(),
    # any offset 0..63 the packet gives, on any layout: every field there
    "sneaky_helper_offset": set(fields_in_span(0, 63)),
    "sneaky_helper_stack": set(),
    "sneaky_ksym": set(),
    "sneaky_rsh": set(),
    "sneaky_uninit_stack": set(),
    "spill_fill": {"eth.dst"},
    "stale_position": {
        "ip.ihl",
        "ip.options",
        "ip.version",
        "payload",
        "tcp.ack",
        "tcp.csum",
        "tcp.data_offset",
        "tcp.dst",
        "tcp.flags",
        "tcp.options",
        "tcp.seq",
        "tcp.src",
        "tcp.urg",
        "tcp.window",
    },
    "store_fixed": {"ip.ttl"},
    "store_variable": {"icmp.type", "payload", "tcp.src", "udp.src"},
    "subprog_write": {"ip.tos", "ipv6.flow_label", "ipv6.tc", "vlan.tci"},
    "ttl_subprog": {"ip.ttl"},
    "v6ext_before_l4": {"ip.dst", "ip.options", "ip.src", "ipv6.dst", "ipv6.ext"},
    "v6ext_global_port": {"udp.dst"},
    "v6ext_tcp_port": {"tcp.dst"},
    "vlan_push_twice": set(),
    "xdp_adjust_head": {"eth.dst"},
    "xdp_meta_write": set(),
    "xdp_store": {"eth.dst"},
    "xdp_store_bytes": {"eth.src"},
}
#: How many fields the analyzer names beyond ``FIELDS`` today: precision it
#: lacks, never a wrong answer (the oracle checks the bytes). A change that
#: names fewer must lower its count here; one that names more fails.
OVER_NAMED: dict[str, int] = {
    # the helper's fixed span, named over every layout the path allows
    "ecn_set_ce": 12,
    "ecn_vlan": 6,
    # a global function: the verifier's span (any offset to 255) names the rest
    "global_two_callers": 21,
    # the counter's bound reaches byte 12 only; the span is named to its end
    "loop_ne_bound": 5,
    # the IHL read from byte 14 is not tied to the layout's header length
    "store_variable": 18,
    # behind an IPv6 extension chain the write is named over the whole frame
    "v6ext_before_l4": 30,
    "v6ext_global_port": 31,
    "v6ext_tcp_port": 31,
    # after a layout change every write is named over assumed layouts
    "xdp_adjust_head": 41,
}
#: What test_named_fields_are_exact saw, for the run's summary (tests/conftest.py).
FIELD_PRECISION: dict[str, tuple[int, int]] = {}  # name -> (exact fields, over-named)

CRAFTED = sorted(EFFECTS.glob("*.c"))
ACTION_SOURCES = sorted(ACTIONS.glob("*.c"))


@dataclass(frozen=True)
class Needs:
    """A construct that some kernels refuse, which a crafted program is built on."""

    probe: str  # tests/kernel/progs/probes/PROBE.c uses the construct and nothing else
    named: str  # what the verifier's refusal of the construct names
    line: int  # the program's C line with the construct, which a refusal names


#: Crafted programs that load only where the kernel accepts a construct.
NEEDS: dict[str, Needs] = {
    # 6.18.44 refuses it in tc programs ("bpf_dynptr_slice_rdwr() is not
    # allowed"); an earlier 6.18 accepted it.
    "dynptr_slice_write": Needs("dynptr_slice_rdwr", "bpf_dynptr_slice_rdwr", 27),
}


def test_the_table_covers_every_crafted_program() -> None:
    assert {p.stem for p in CRAFTED} == set(TABLE)
    assert set(NEEDS) <= set(TABLE)
    # Every program but one some kernels refuse has its exact field set.
    assert set(FIELDS) == set(TABLE) - set(NEEDS)
    assert set(OVER_NAMED) <= set(FIELDS)


@pytest.fixture(scope="module")
def probes(build_dir: Path) -> Probes:
    """This kernel's verdicts on the probes of ``NEEDS``, each loaded when first asked."""
    return Probes(build_dir)


@pytest.fixture(scope="module")
def checked(action_effects: Outcomes) -> Outcomes:
    """Every action and crafted program checked once; a rejection fails only its own tests."""
    outcomes = {name: action_effects.outcome(name) for name in action_effects}
    for src in CRAFTED:
        assert src.stem not in outcomes, f"{src.name} would shadow the action of that name"
        outcomes[src.stem] = outcome_of(src)
    return Outcomes(outcomes)


def refused_here(name: str, probes: Probes) -> bool:
    """Whether this kernel refuses the construct ``name`` is built on (its probe says so)."""
    needs = NEEDS.get(name)
    if needs is None:
        return False
    refusal = probes(needs.probe).refusal
    if refusal is None:
        return False
    # Refused for the construct, not for something else the probe got wrong.
    assert needs.named in refusal.summary.reason, refusal.summary.reason
    return True


def assert_refused(name: str, checked: Outcomes) -> None:
    """Where the probe is refused, the program is too: what is reported is tested below."""
    rejection = checked.rejection(name)
    assert rejection is not None, f"the kernel refuses {NEEDS[name].probe}.c but loaded {name}"
    assert rejection.program == name


@pytest.mark.parametrize("name", sorted(TABLE))
def test_verdict_and_write_set(name: str, checked: Outcomes, probes: Probes) -> None:
    if refused_here(name, probes):
        assert_refused(name, checked)
        return
    e, want = checked[name], TABLE[name]
    assert e.verdict == want.verdict, e.reasons
    assert {(w.offset_min, w.offset_max, w.via) for w in e.packet_writes} == want.writes
    assert {m.field for m in e.metadata_writes} == want.metadata
    assert {c.helper for c in e.length_changes} == want.length
    assert e.flow_key_affected is want.flow_key
    assert {d.insn for d in e.disagreements} == want.disagree
    assert e.kernel is not None and e.kernel.accepted and e.kernel.log_complete


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_named_fields_are_exact(name: str, checked: Outcomes) -> None:
    """The fields named are the program's own (``FIELDS``), plus the over-naming
    ``OVER_NAMED`` counts: never fewer (a field it writes, unnamed, is wrong),
    and never more than counted."""
    named = {f for w in checked[name].packet_writes for f in w.fields}
    want = FIELDS[name]
    assert want <= named, f"{name} writes {sorted(want - named)}, which it does not name"
    over = named - want
    FIELD_PRECISION[name] = (len(want), len(over))
    assert len(over) == OVER_NAMED.get(name, 0), (
        f"{name} names {len(over)} fields beyond its own ({sorted(over)}); "
        f"OVER_NAMED counts {OVER_NAMED.get(name, 0)}: lower it if the analyzer got more precise"
    )


@pytest.mark.parametrize("name", sorted(n for n, x in TABLE.items() if x.writes))
def test_every_write_names_its_c_line(name: str, checked: Outcomes, probes: Probes) -> None:
    if refused_here(name, probes):
        assert_refused(name, checked)
        return
    for w in checked[name].packet_writes:
        assert w.source is not None and w.source.split(":")[0] in (f"{name}.c", "extframe.h")
        assert w.fields, w


def test_direct_stores_are_seen_by_both_witnesses(checked: Outcomes, probes: Probes) -> None:
    for name, want in TABLE.items():
        if refused_here(name, probes):
            assert_refused(name, checked)
            continue
        for w in checked[name].packet_writes:
            if w.via == "store" and w.insn not in want.disagree:
                assert w.evidence == ["static", "verifier"], (name, w)


def test_fields_follow_the_checks_the_program_made(checked: Outcomes) -> None:
    # store_fixed compares the ethertype with 0x0800 before writing byte 22.
    (w,) = checked["store_fixed"].packet_writes
    assert w.fields == ["ip.ttl"]
    (csum,) = checked["helper_l4_csum"].packet_writes
    assert "tcp.csum" in csum.fields


def test_a_global_function_is_named_from_its_callers(checked: Outcomes) -> None:
    """The kernel verifies a global function for any argument; the names follow the callers.

    global_udp_port writes only the UDP destination port, so only udp.dst;
    global_two_callers pokes the payload and then udp.src through one
    function, so both (an analysis that kept one caller's argument would
    miss the port, which is in the flow key).
    """
    (port,) = checked["global_udp_port"].packet_writes
    assert port.fields == ["udp.dst"]
    (poke,) = checked["global_two_callers"].packet_writes
    assert {"payload", "udp.src"} <= set(poke.fields)
    assert checked["global_two_callers"].flow_key_affected


def test_the_last_turn_of_a_counted_loop_is_named(checked: Outcomes) -> None:
    """loop_ne_bound writes tcp + 4 .. tcp + 12; only byte 12 is in the flow key."""
    e = checked["loop_ne_bound"]
    (w,) = e.packet_writes
    assert {"tcp.seq", "tcp.ack", "tcp.flags"} <= set(w.fields)
    assert e.flow_key_affected


def test_a_store_that_keeps_a_fields_bits_does_not_write_it(
    checked: Outcomes,
) -> None:
    """``(b & 0xf0) | dscp`` keeps the IPv6 version; a value one bit wider does not."""
    assert [w.fields for w in checked["bits_tc_keep"].packet_writes] == [["ipv6.tc"]] * 2
    for name in ("bits_version_clobber", "bits_wrong_byte"):
        (w,) = checked[name].packet_writes
        assert w.fields == ["ipv6.tc", "ipv6.version"], name


def test_a_position_is_stale_once_a_byte_it_was_computed_from_is_written(
    checked: Outcomes,
) -> None:
    """The checksum position 14 + 4·ihl + 16 is in the IP options after ihl := 15."""
    for w in checked["stale_position"].packet_writes:
        if w.offset_min >= 50:
            assert "ip.options" in w.fields, w


@pytest.mark.parametrize(
    ("name", "ethertype"),
    [
        ("bits_tc_keep", b"\x86\xdd"),
        ("bits_version_clobber", b"\x86\xdd"),
        ("bits_wrong_byte", b"\x86\xdd"),
        ("stale_position", b"\x08\x00"),
        ("global_udp_port", b"\x08\x00"),
        ("global_udp_port", b"\x86\xdd"),
        ("loop_ne_bound", b"\x08\x00"),
    ],
)
def test_every_field_a_run_changes_is_named(
    name: str, ethertype: bytes, checked: Outcomes, build_dir: Path
) -> None:
    """The field names against the packets: scapy reads the fields bit by bit."""
    named = {f for w in checked[name].packet_writes for f in w.fields}
    seen: set[str] = set()
    frames = [f for f in FRAMES if f[12:14] == ethertype and len(f) >= 54]
    assert frames
    with load_object(build(EFFECTS / f"{name}.c", build_dir / f"fields_{name}.o")) as obj:
        prog = obj.program()
        for frame in frames:
            for arg in (0, 0x15, 0x2A, 0x3F):
                out = run(prog, RunInput(packet=frame, in_port=1, arg=arg))
                seen |= {c.field for c in diff(frame, out.packet).fields}
    assert seen and seen <= named, (seen, named)
    if name.startswith("bits_") and name != "bits_tc_keep":
        assert "ipv6.version" in seen
    if name == "stale_position":
        assert "ip.options" in seen


def _ext_chain_frames() -> list[bytes]:
    """UDP and TCP over IPv6 behind 0 to 4 extension headers, with 0 to 2 VLAN tags."""
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import (
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
    )
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
    from scapy.packet import Packet, Raw

    chains: list[list[Packet]] = [
        [],
        [IPv6ExtHdrHopByHop()],
        [IPv6ExtHdrFragment(offset=0, m=1, id=7)],  # a first fragment: L4 follows
        [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt()],
        [IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(), IPv6ExtHdrFragment(m=1, id=9)],
        [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(), IPv6ExtHdrDestOpt()],
    ]
    tags: list[list[Packet]] = [[], [Dot1Q(vlan=5)], [Dot1AD(vlan=6), Dot1Q(vlan=7)]]
    frames = []
    for tag in tags:
        for chain in chains:
            for l4 in (UDP(sport=1000, dport=53), TCP(sport=1000, dport=80, flags="S")):
                pkt: Packet = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
                for layer in [*tag, IPv6(src="2001:db8::1", dst="2001:db8::2"), *chain, l4]:
                    pkt = pkt / layer
                frames.append(bytes(pkt / Raw(b"SECRET, and some more payload")))
    return frames


@pytest.mark.parametrize("name", ["v6ext_before_l4", "v6ext_tcp_port", "v6ext_global_port"])
def test_a_write_behind_an_ipv6_chain_that_changes_the_key_is_named_so(
    name: str, checked: Outcomes, build_dir: Path
) -> None:
    """Guards against a false narrowing behind IPv6 extension-header chains (issue 4).

    Each program parses like payload_scrub and writes where OVS keys on the
    byte: in front of the UDP header, a TCP port, a UDP port from a global
    function. On real frames with extension-header chains the independent
    reading of the flow key changes, so the analyzer must say flow key, and
    every changed byte must be in its spans.
    """
    effects = checked[name]
    assert effects.flow_key_affected
    spans = [(w.offset_min, w.offset_max) for w in effects.packet_writes]
    key_changed = 0
    with load_object(build(EFFECTS / f"{name}.c", build_dir / f"chain_{name}.o")) as obj:
        prog = obj.program()
        for frame in _ext_chain_frames():
            out = run(prog, RunInput(packet=frame, in_port=1))
            for o in write_offsets(frame, out.packet):
                assert any(lo <= o and (hi is None or o <= hi) for lo, hi in spans), (o, name)
            key_changed += flow_key(out.packet) != flow_key(frame)
    assert key_changed >= 18, key_changed  # every tag count and chain, for its protocol


def test_bundled_actions(checked: Outcomes) -> None:
    assert checked["port_counter"].verdict == "read_only"
    assert checked["port_filter"].verdict == "read_only"
    dec = checked["dec_ttl"]
    assert dec.verdict == "writes" and dec.flow_key_affected
    # ttl (and hop_limit) plus the IPv4 checksum, after 0-2 VLAN tags
    assert {(w.offset_min, w.offset_max) for w in dec.packet_writes} == {
        (22, 30),
        (24, 33),
        (21, 29),
    }


# --- the dynamic oracle -----------------------------------------------------------------

FRAMES = generate(20261121, 300)


#: Past any frame the kernel runs: a span reaching it is as good as unbounded.
MAX_FRAME = 1 << 16


@pytest.mark.parametrize("src", [*CRAFTED, *ACTION_SOURCES], ids=lambda p: p.stem)
def test_no_byte_outside_the_write_set_ever_changes(
    src: Path, checked: Outcomes, probes: Probes, build_dir: Path
) -> None:
    """Random frames, and for an action its own vectors' packets, with its maps set up.

    A crafted program this kernel cannot load (its probe is refused) is refused here too.
    """
    if refused_here(src.stem, probes):
        obj_path = build(src, build_dir / f"oracle_{src.stem}.o")
        with pytest.raises(VerifierError) as refused, load_object(obj_path):
            pass
        assert refused.value.program == src.stem
        return
    effects = checked[src.stem]
    allowed: set[int] = set()
    unbounded_from: int | None = None
    for w in effects.packet_writes:
        if w.offset_max is None or w.offset_max >= MAX_FRAME:
            lo = w.offset_min
            unbounded_from = lo if unbounded_from is None else min(unbounded_from, lo)
        else:
            allowed |= set(range(w.offset_min, w.offset_max + 1))
    visible_meta = {m.field for m in effects.metadata_writes}
    changed_frames = 0
    frames = list(FRAMES)
    vectors = VectorFile.load(vectors_path(src)) if src.parent == ACTIONS else None
    if vectors is not None:
        frames += [v.input_bytes() for v in vectors.vector]
    obj_path = build(src, build_dir / f"oracle_{src.stem}.o")
    with load_object(obj_path) as obj:
        if vectors is not None:
            apply_setup(obj, vectors)  # the writers act on configured flows only
        prog = obj.program()
        xdp = prog.type_name == "xdp"  # no metadata goes in or comes out
        mark, priority = (0, 0) if xdp else (5, 9)
        for frame in frames:
            for arg in (0,) if xdp else (0, 7):
                inp = RunInput(
                    packet=frame, in_port=0 if xdp else 1, arg=arg, mark=mark, priority=priority
                )
                out = run(prog, inp)
                moved = write_offsets(frame, out.packet)
                if moved or out.meta or (out.mark, out.priority) != (mark, priority):
                    changed_frames += 1
                if effects.verdict == "read_only":
                    assert not moved and (out.mark, out.priority) == (mark, priority), frame.hex()
                    assert not out.meta, frame.hex()
                    continue
                if out.meta:  # the XDP metadata area in front of the frame
                    assert "meta.data_meta" in visible_meta, frame.hex()
                if len(out.packet) != len(frame):
                    assert any(c.moves_bytes for c in effects.length_changes), frame.hex()
                    continue
                outside = {
                    o
                    for o in moved
                    if o not in allowed and (unbounded_from is None or o < unbounded_from)
                }
                assert not outside, (sorted(outside), frame.hex())
                if not effects.flow_key_affected:
                    # "No re-classification" must hold on every packet.
                    assert flow_key(out.packet) == flow_key(frame), frame.hex()
                if out.mark != mark:
                    assert "meta.mark" in visible_meta
                if out.priority != priority:
                    assert "meta.priority" in visible_meta
    if effects.packet_writes or {"meta.mark", "meta.priority"} & visible_meta:
        # The oracle saw the writer write: the packets exercise the write.
        assert changed_frames > 0, f"{src.stem} never changed any generated packet"


# --- the command line ----------------------------------------------------------------------


def test_check_json_is_an_array_with_the_stable_keys() -> None:
    r = cli("check", "--json", "actions/port_counter.c", str(EFFECTS / "store_fixed.c"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["program"] for o in out] == ["port_counter", "store_fixed"]
    keys = {
        "object", "program", "section", "type", "verdict", "flow_key_affected", "reasons",
        "packet_writes", "metadata_writes", "length_changes", "helpers", "maps",
    }  # fmt: skip
    assert all(keys <= o.keys() for o in out)
    (write,) = out[1]["packet_writes"]
    assert {"insn", "offset_min", "offset_max", "size", "fields", "source"} <= write.keys()
    assert (write["offset_min"], write["offset_max"], write["size"]) == (22, 22, 1)
    assert out[0]["verdict"] == "read_only"


def test_check_text_names_verdict_and_line() -> None:
    r = cli("check", str(EFFECTS / "store_fixed.c"))
    assert r.returncode == 0, r.stderr
    assert "store_fixed (tc): writes; flow key affected" in r.stdout
    assert "store_fixed.c:" in r.stdout and "22 (ip.ttl)" in r.stdout


def test_check_without_the_kernel_never_says_read_only() -> None:
    r = cli("check", "--json", "--no-kernel", str(EFFECTS / "ro_stack_copy.c"))
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert (out["verdict"], out["static_verdict"], out["kernel"]) == ("unknown", "read_only", None)


def test_check_of_a_rejected_program_reports_unknown_and_exits_3() -> None:
    r = cli("check", "--json", str(PROGS / "reject_pkt.c"), "actions/port_counter.c")
    assert r.returncode == 3
    rejected, ok = json.loads(r.stdout)
    assert rejected["verdict"] == "unknown"
    assert any("rejected" in x and "reject_pkt.c:10" in x for x in rejected["reasons"])
    assert ok["verdict"] == "read_only"
    assert "reject_pkt.c:10" in r.stderr


#: How each format words a rejection: the verifier's reason and the C line
#: (FILE.c:LINE) it names (extframe/check.py ``_rejection``, analyzer/effects.py,
#: extframe/prove_commands.py, extframe/gate.py ``_rejected``).
_REASON_JSON_AND_TEXT = re.compile(
    r"the verifier rejected the program: (?P<reason>.+) \((?P<where>[^()\s]+:\d+)\)$"
)


def _reason_stderr(program: str) -> re.Pattern[str]:
    return re.compile(
        rf"^extframe: verifier rejected .+?: {re.escape(program)}: "
        r"(?P<reason>.+) \((?P<where>[^()\s]+:\d+)\)$"
    )


def _reason_sarif(program: str) -> re.Pattern[str]:
    return re.compile(
        rf"^the verifier rejected {re.escape(program)} at (?P<where>[^()\s]+:\d+): (?P<reason>.+)$"
    )


def _the_reason(pattern: re.Pattern[str], lines: list[str], where: str) -> str:
    """The one reason among ``lines`` that ``pattern`` finds, which names the C line ``where``."""
    found = [m for m in (pattern.search(ln.strip()) for ln in lines) if m]
    assert len(found) == 1, (pattern.pattern, lines)
    assert found[0]["where"] == where, (found[0]["where"], lines)
    return found[0]["reason"]


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_a_construct_the_kernel_refuses_is_reported_with_the_verifiers_reason(
    name: str, checked: Outcomes, probes: Probes
) -> None:
    """Where the kernel refuses the construct: unknown, exit 3, its own line everywhere.

    Text, JSON and SARIF all report the same reason, the line of the
    verifier's log that says why (never a trace line such as
    ``mark_precise:`` that the verifier printed after it), and the C line of
    the construct. Where the kernel accepts it, ``check`` proves the row of
    TABLE.
    """
    needs = NEEDS[name]
    src = EFFECTS / f"{name}.c"
    assert needs.named in src.read_text().splitlines()[needs.line - 1]
    where = f"{src.name}:{needs.line}"
    r = cli("check", "--json", str(src))
    (out,) = json.loads(r.stdout)
    if probes(needs.probe).accepted:
        assert r.returncode == 0, r.stderr
        assert out["verdict"] == TABLE[name].verdict and out["kernel"]["accepted"], out
        return
    assert r.returncode == 3, r.stderr
    assert out["verdict"] == "unknown"
    reasons = {"json": _the_reason(_REASON_JSON_AND_TEXT, out["reasons"], where)}
    text = cli("check", str(src))
    assert text.returncode == 3, text.stderr
    stdout = text.stdout.splitlines()
    reasons["text (stdout)"] = _the_reason(_REASON_JSON_AND_TEXT, stdout, where)
    stderr = text.stderr.splitlines()
    reasons["text (stderr)"] = _the_reason(_reason_stderr(name), stderr, where)
    sarif = cli("check", "--sarif", str(src))
    assert sarif.returncode == 3, sarif.stderr
    results = [
        x
        for run in json.loads(sarif.stdout)["runs"]
        for x in run["results"]
        if x["ruleId"] == "verifier-rejected"
    ]
    assert len(results) == 1, results
    (result,) = results
    messages = [result["message"]["text"]]
    reasons["sarif"] = _the_reason(_reason_sarif(name), messages, where)
    (location,) = result["locations"]
    assert location["physicalLocation"]["region"]["startLine"] == needs.line
    # One reason in every format, and it is the verifier's own line.
    assert len(set(reasons.values())) == 1, reasons
    reason = reasons["json"]
    assert needs.named in reason, reasons
    assert "mark_precise" not in reason, reasons
    rejection = checked.rejection(name)
    assert rejection is not None
    assert reason in {ln.strip() for ln in rejection.log.splitlines()}, (reason, rejection.log)


def test_check_of_an_object_built_elsewhere(build_dir: Path) -> None:
    obj = build(EFFECTS / "spill_fill.c", build_dir / "elsewhere.o")
    r = cli("check", "--json", str(obj))
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert out["object"] == str(obj) and out["verdict"] == "writes"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x7fELF" + bytes(60), "not BPF"),
        (bytes(range(256)) * 4, "not an ELF"),
    ],
)
def test_check_refuses_bad_objects_in_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    bad = tmp_path / "bad.o"
    bad.write_bytes(content)
    r = cli("check", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("extframe: error:"), r.stderr
    assert words in lines[0]


def test_check_refuses_a_truncated_object(tmp_path: Path, build_dir: Path) -> None:
    obj = build(EFFECTS / "store_fixed.c", build_dir / "whole.o")
    cut = tmp_path / "cut.o"
    cut.write_bytes(obj.read_bytes()[:700])
    r = cli("check", str(cut))
    assert r.returncode == 2 and r.stderr.startswith("extframe: error:"), r.stderr


def test_explain_shows_source_types_and_effects() -> None:
    r = cli("explain", str(EFFECTS / "store_fixed.c"))
    assert r.returncode == 0, r.stderr
    assert "@ store_fixed.c:" in r.stdout  # the C line
    assert "=pkt(" in r.stdout  # the verifier's type of the base register
    assert "^ writes packet bytes 22 (ip.ttl)" in r.stdout


def test_explain_json_and_program_choice() -> None:
    r = cli("explain", "--json", str(PROGS / "two_progs.c"), "--program", "mark_second")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["effects"]["program"] == "mark_second"
    marked = [row for row in out["listing"] if row["effects"]]
    assert [row["effects"] for row in marked] == [["writes meta.mark"]]
    assert marked[0]["verifier_types"] and marked[0]["source"].startswith("two_progs.c:")
    r = cli("explain", str(PROGS / "two_progs.c"), "--program", "nope")
    assert r.returncode == 2 and "no program 'nope'" in r.stderr


def test_check_of_raw_bytecode(tmp_path: Path) -> None:
    logs = ROOT / "tests" / "unit" / "data" / "logs"
    raw = tmp_path / "fixed.bin"
    raw.write_bytes((logs / "fixed_write.insns").read_bytes())
    r = cli("check", "--json", "--raw", "--type", "tc", str(raw))
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert out["verdict"] == "writes" and out["kernel"]["accepted"]
    assert {(w["offset_min"], w["source"]) for w in out["packet_writes"]} == {
        (22, None),
        (15, None),
    }
    # Map fds in bare bytecode point at nothing here: the kernel refuses it.
    maps = tmp_path / "maps.bin"
    maps.write_bytes((logs / "map_lookup.insns").read_bytes())
    r = cli("check", "--raw", "--type", "tc", str(maps))
    assert r.returncode == 3 and "unknown" in r.stdout
    assert "fd 4 is not pointing to valid bpf_map" in r.stderr and "func#0" not in r.stderr
    r = cli("check", "--raw", str(raw))
    assert r.returncode == 2 and "--type" in r.stderr
