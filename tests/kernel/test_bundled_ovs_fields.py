"""What registration tells the switch for each bundled action, from its proof on the kernel.

``fields=`` in OVS's names (extframe/ovs/fields.py) and the re-classification
(extframe/ovs/registry.py): a wrong row of the mapping table, or an analyzer
naming that stops being proved, shows here on real programs.
"""

from __future__ import annotations

import pytest

from extframe.ovs.fields import ovs_fields
from extframe.ovs.registry import reclassification
from tests.conftest import ACTIONS, Outcomes

pytestmark = pytest.mark.kernel

#: Each bundled action: the OVS fields it may change, and reclassify=.
EXPECTED = {
    "dec_ttl": (["nw_ttl"], "lazy"),  # ip.ttl, ipv6.hop_limit (ip.csum is not in the key)
    "dscp_remark": (["nw_ecn", "nw_tos"], "lazy"),  # ip.tos, ipv6.tc
    "mac_rewrite": (["dl_dst", "dl_src"], "lazy"),
    "mark_setter": (["pkt_mark"], "lazy"),
    "nat44": (["nw_src"], "lazy"),  # its L4 checksum updates are not in the key
    "vlan_push": (["unknown"], "lazy"),  # a layout change: every field
    "vlan_pop": (["unknown"], "lazy"),
    "payload_scrub": ([], "no"),  # payload and checksums only
    "flow_counter": ([], "no"),  # the read-only rest
    "heavy_hitter": ([], "no"),
    "policer": ([], "no"),
    "port_counter": ([], "no"),
    "port_filter": ([], "no"),
    "port_knock": ([], "no"),
    "syn_guard": ([], "no"),
}


def test_every_bundled_action_has_a_row() -> None:
    assert set(EXPECTED) == {s.stem for s in ACTIONS.glob("*.c")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_what_registration_sends_for_a_bundled_action(name: str, action_effects: Outcomes) -> None:
    effects = action_effects[name]
    fields, mode = EXPECTED[name]
    assert ovs_fields(effects) == fields, effects.packet_writes
    decided, basis = reclassification(effects)
    assert (decided, list(basis)) == (mode, fields)
    if not effects.length_changes:  # the bundled actions check their ethertypes
        assert all(w.layout == "proved" for w in effects.packet_writes)


def test_the_basis_names_both_sides(action_effects: Outcomes) -> None:
    assert reclassification(action_effects["dec_ttl"])[1] == {
        "nw_ttl": ["ip.ttl", "ipv6.hop_limit"]
    }
    assert reclassification(action_effects["vlan_push"])[1] == {"unknown": ["length"]}
