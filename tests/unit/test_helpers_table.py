"""The table of helper and kfunc effects, a test per row and its invariants.

Reference data, generated once and kept beside the verifier-log fixtures:
data/logs/bpf_helper_ids.txt (``enum bpf_func_id``: the 6.1 uapi header and
the 6.18 kernel's BTF) and data/logs/btf_bpf_funcs_6.18.txt (the functions
named bpf_* in the 6.18 kernel: helper implementations and kfuncs).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.helpers import (
    CHANGES_PKT_DATA,
    HELPERS,
    KFUNCS,
    METADATA_FIELDS,
    HelperEffect,
    helper_by_id,
    helper_by_name,
    kfunc_by_name,
)

DATA = Path(__file__).parent / "data" / "logs"
ABI_HEADER = Path(__file__).resolve().parents[2] / "actions" / "include" / "extframe.h"


def _read_ids() -> dict[str, int]:
    ids: dict[str, int] = {}
    for line in (DATA / "bpf_helper_ids.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            number, name = line.split()
            ids[name] = int(number)
    return ids


UAPI_IDS = _read_ids()
KERNEL_FUNCS = frozenset(
    line
    for line in (DATA / "btf_bpf_funcs_6.18.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
# The field names of the EXTFRAME_EFFECTS grammar in the ABI header.
EFFECT_FIELDS = frozenset(
    re.findall(r'"((?:eth|vlan|ip|ipv6|tcp|udp|icmp)\.\w+)"', ABI_HEADER.read_text())
)
ROWS = (*HELPERS, *KFUNCS)
# Helpers the verifier treats as changing packet data outside
# bpf_helper_changes_pkt_data(): check_helper_call() sets changes_data for
# bpf_dynptr_write on an skb dynptr.
VERIFIER_EXTRA_INVALIDATION = frozenset({"dynptr_write"})
# Helpers on the kernel's list that tc and XDP programs cannot call
# (lwt, sk_msg and sock_ops program types).
NOT_FOR_TC_OR_XDP = frozenset(
    {
        "lwt_push_encap",
        "lwt_seg6_action",
        "lwt_seg6_adjust_srh",
        "lwt_seg6_store_bytes",
        "msg_pop_data",
        "msg_pull_data",
        "msg_push_data",
        "store_hdr_opt",
    }
)


def _row_id(row: HelperEffect) -> str:
    return row.name


def _cited_function(row: HelperEffect) -> str:
    path, _, function = row.source.partition(": ")
    assert re.fullmatch(r"(?:net|kernel)/[\w/]+\.c", path), row.source
    assert re.fullmatch(r"\w+", function), row.source
    return function


@pytest.mark.parametrize("row", HELPERS, ids=_row_id)
def test_helper_number_matches_uapi(row: HelperEffect) -> None:
    assert row.kind == "helper"
    assert row.id == UAPI_IDS[row.name]
    assert helper_by_id(UAPI_IDS[row.name]) is row
    assert helper_by_name(row.name) is row
    assert helper_by_name(row.symbol) is row
    assert row.symbol == f"bpf_{row.name}"


@pytest.mark.parametrize("row", KFUNCS, ids=_row_id)
def test_kfunc_exists_in_the_kernel(row: HelperEffect) -> None:
    assert row.kind == "kfunc" and row.id is None
    assert row.name in KERNEL_FUNCS
    assert kfunc_by_name(row.name) is row
    assert row.symbol == row.name


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_row_invariants(row: HelperEffect) -> None:
    function = _cited_function(row)
    if function.startswith("bpf_"):
        assert function in KERNEL_FUNCS, f"{row.name}: {row.source} is not in Linux 6.18"
    if row.changes_length_or_layout:
        assert row.invalidates_packet_pointers
    if row.refused_in_ovs:
        assert len(row.note) > 40, "a refused helper says why"
    if row.writes_packet_bytes:
        assert row.offset_arg is not None or row.writes_fields
        assert row.length_arg is not None or row.length is not None or row.writes_fields
    for arg in (row.offset_arg, row.length_arg):
        assert arg is None or 1 <= arg <= 5
    if row.writes_fields:
        assert row.writes_packet_bytes
        assert set(row.writes_fields) <= EFFECT_FIELDS
    assert set(row.writes_metadata) <= METADATA_FIELDS
    assert row.reads_only == (
        not row.writes_packet_bytes
        and not row.changes_length_or_layout
        and not row.writes_metadata
        and not row.invalidates_packet_pointers
        and not row.tail_call
        and not row.refused_in_ovs
    )


@pytest.mark.parametrize("row", HELPERS, ids=_row_id)
def test_invalidation_is_the_kernels_list(row: HelperEffect) -> None:
    expected = row.name in CHANGES_PKT_DATA or row.name in VERIFIER_EXTRA_INVALIDATION
    assert row.invalidates_packet_pointers == expected


def test_kernel_list_is_covered() -> None:
    assert CHANGES_PKT_DATA.issubset(UAPI_IDS)
    names = {h.name for h in HELPERS}
    assert (CHANGES_PKT_DATA - NOT_FOR_TC_OR_XDP).issubset(names)


def test_rows_are_unique() -> None:
    assert len({h.id for h in HELPERS}) == len(HELPERS)
    assert len({r.name for r in ROWS}) == len(ROWS)


# --- facts from DESIGN.md and the kernel -------------------------------------


def test_ecn_set_ce_writes_but_does_not_invalidate() -> None:
    row = helper_by_name("skb_ecn_set_ce")
    assert row is not None
    assert row.writes_packet_bytes and "ip.tos" in row.writes_fields
    assert not row.invalidates_packet_pointers
    assert "skb_ecn_set_ce" not in CHANGES_PKT_DATA
    assert not row.reads_only


def test_xdp_store_bytes_writes_but_does_not_invalidate() -> None:
    row = helper_by_id(190)
    assert row is not None and row.name == "xdp_store_bytes"
    assert row.writes_packet_bytes and (row.offset_arg, row.length_arg) == (2, 4)
    assert not row.invalidates_packet_pointers


def test_store_bytes_and_checksums() -> None:
    store = helper_by_id(9)
    assert store is not None and store.name == "skb_store_bytes"
    assert (store.offset_arg, store.length_arg) == (2, 4)
    assert store.invalidates_packet_pointers
    for name in ("l3_csum_replace", "l4_csum_replace"):
        row = helper_by_name(name)
        assert row is not None and (row.offset_arg, row.length) == (2, 2)


@pytest.mark.parametrize(
    "name",
    [
        "map_lookup_elem",
        "map_update_elem",
        "skb_load_bytes",
        "skb_load_bytes_relative",
        "csum_diff",
        "ktime_get_ns",
        "get_prandom_u32",
        "trace_printk",
        "ringbuf_output",
        "ringbuf_reserve",
        "ringbuf_submit",
        "perf_event_output",
        "get_smp_processor_id",
        "xdp_load_bytes",
        "dynptr_read",
    ],
)
def test_common_safe_helpers_read_only(name: str) -> None:
    row = helper_by_name(name)
    assert row is not None and row.reads_only


@pytest.mark.parametrize("name", ["map_update_elem", "ringbuf_output", "ringbuf_reserve"])
def test_map_writes_are_not_packet_writes(name: str) -> None:
    row = helper_by_name(name)
    assert row is not None and row.writes_map and row.reads_only


def test_hash_helpers_write_metadata() -> None:
    # bpf_get_hash_recalc() stores what skb_get_hash() computes.
    for name in ("get_hash_recalc", "set_hash", "set_hash_invalid"):
        row = helper_by_name(name)
        assert row is not None and row.writes_metadata == ("hash",) and not row.reads_only


def test_length_changes() -> None:
    changing = {h.name for h in HELPERS if h.changes_length_or_layout}
    assert changing == {
        "skb_vlan_push",
        "skb_vlan_pop",
        "skb_change_proto",
        "skb_change_tail",
        "skb_change_head",
        "skb_adjust_room",
        "xdp_adjust_head",
        "xdp_adjust_tail",
    }
    # Pointer invalidation without a length change: skb_pull_data makes
    # bytes linear, xdp_adjust_meta moves the metadata area.
    for name in ("skb_pull_data", "xdp_adjust_meta"):
        row = helper_by_name(name)
        assert row is not None
        assert row.invalidates_packet_pointers and not row.changes_length_or_layout


def test_refused_helpers() -> None:
    refused = {h.name for h in HELPERS if h.refused_in_ovs}
    assert refused == {
        "clone_redirect",
        "redirect",
        "redirect_map",
        "redirect_neigh",
        "redirect_peer",
        "sk_assign",
        "skb_get_tunnel_key",
        "skb_set_tunnel_key",
        "skb_get_tunnel_opt",
        "skb_set_tunnel_opt",
        "skb_under_cgroup",
        "skb_cgroup_id",
        "skb_ancestor_cgroup_id",
    }
    assert not any(k.refused_in_ovs for k in KFUNCS)


def test_tail_call() -> None:
    row = helper_by_id(12)
    assert row is not None and row.tail_call and row.invalidates_packet_pointers


def test_dynptr_kfuncs() -> None:
    rdwr = kfunc_by_name("bpf_dynptr_slice_rdwr")
    assert rdwr is not None and rdwr.writes_packet_bytes
    assert (rdwr.offset_arg, rdwr.length_arg) == (2, 4)
    for name in ("bpf_dynptr_from_skb", "bpf_dynptr_slice"):
        row = kfunc_by_name(name)
        assert row is not None and row.reads_only
    write = helper_by_name("dynptr_write")
    assert write is not None and write.writes_packet_bytes and write.invalidates_packet_pointers
    pull = kfunc_by_name("bpf_xdp_pull_data")
    assert pull is not None and pull.invalidates_packet_pointers


def test_unknown_calls_are_none() -> None:
    assert helper_by_id(4) is None  # probe_read: not for actions, so not in the table
    assert helper_by_id(99_999) is None
    assert helper_by_id(-1) is None
    assert helper_by_name("no_such_helper") is None
    assert kfunc_by_name("bpf_no_such_kfunc") is None
    assert kfunc_by_name("skb_store_bytes") is None
