"""What BPF helpers and kfuncs do to a packet and its metadata: a table with sources.

One row per helper (by its uapi number, ``enum bpf_func_id`` in
include/uapi/linux/bpf.h) or kfunc (by name: kfunc BTF ids differ per kernel
build) that a tc or XDP action may call. Each row says, from the kernel
source it cites:

* ``writes_packet_bytes``: the call may store into packet data; where the
  offset and length come from an argument, ``offset_arg``/``length_arg`` name
  it (1 = R1 ... 5 = R5), ``length`` gives a fixed size, ``writes_fields``
  names header fields written without an offset argument: the only fields
  the call may write, whatever else its ``fixed_span`` covers.
* ``changes_length_or_layout``: the packet may grow, shrink or have headers
  inserted or removed.
* ``writes_metadata``: sk_buff / xdp_buff fields written (see
  ``METADATA_FIELDS``).
* ``invalidates_packet_pointers``: the verifier forgets every packet pointer
  after the call. This is ``bpf_helper_changes_pkt_data()`` (net/core/filter.c)
  and its kfunc and dynptr counterparts in kernel/bpf/verifier.c. It is about
  pointers, *not* about writing: ``bpf_skb_ecn_set_ce`` and
  ``bpf_xdp_store_bytes`` write packet bytes and are not on the list.
* ``tail_call``: control may continue in another program.
* ``refused_in_ovs``: registration refuses the action (``note`` says why):
  the helper sends the packet elsewhere, or it reads or writes a device,
  socket or tunnel context that an skb built by BPF_PROG_TEST_RUN does not
  have, so its answer would always be the same or its write silently lost.
* ``writes_map``: a map write (state, not a packet effect).
* ``writes_memory``: pointer arguments the call writes through, as
  ``(pointer_arg, length_arg, fixed_length)``. The verifier lets such an
  argument be a packet pointer (``check_helper_mem_access``), so
  ``bpf_skb_load_bytes(skb, 6, data, 6)`` writes the packet.
* ``fixed_span``: the packet bytes (from the Ethernet header start) a call
  that takes no offset may write, when the kernel fixes them.

A helper or kfunc missing from the table is unknown: ``helper_by_id`` and
``kfunc_by_name`` return None, and the verdict layer answers ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHANGES_PKT_DATA",
    "HELPERS",
    "HELPERS_NOT_MODELLED",
    "HELPER_NAMES",
    "KFUNCS",
    "KFUNCS_NOT_MODELLED",
    "METADATA_FIELDS",
    "HelperEffect",
    "helper_by_id",
    "helper_by_name",
    "helper_symbol",
    "kfunc_by_name",
    "not_modelled_why",
]

#: Every helper's uapi name, by number: ``enum bpf_func_id`` of
#: include/uapi/linux/bpf.h (``___BPF_FUNC_MAPPER``), 1 to 211 as Linux 6.18
#: numbers them. The numbers are ABI: a kernel only appends. They name a call
#: the table has no row for (``helper_symbol``), so that a reason says
#: ``bpf_fib_lookup``, not ``helper#69``; tests/kernel/test_helper_coverage.py
#: compares them with the running kernel's BTF.
_UAPI_ORDER = """
    map_lookup_elem map_update_elem map_delete_elem probe_read ktime_get_ns trace_printk
    get_prandom_u32 get_smp_processor_id skb_store_bytes l3_csum_replace l4_csum_replace
    tail_call clone_redirect get_current_pid_tgid get_current_uid_gid get_current_comm
    get_cgroup_classid skb_vlan_push skb_vlan_pop skb_get_tunnel_key skb_set_tunnel_key
    perf_event_read redirect get_route_realm perf_event_output skb_load_bytes get_stackid
    csum_diff skb_get_tunnel_opt skb_set_tunnel_opt skb_change_proto skb_change_type
    skb_under_cgroup get_hash_recalc get_current_task probe_write_user
    current_task_under_cgroup skb_change_tail skb_pull_data csum_update set_hash_invalid
    get_numa_node_id skb_change_head xdp_adjust_head probe_read_str get_socket_cookie
    get_socket_uid set_hash setsockopt skb_adjust_room redirect_map sk_redirect_map
    sock_map_update xdp_adjust_meta perf_event_read_value perf_prog_read_value getsockopt
    override_return sock_ops_cb_flags_set msg_redirect_map msg_apply_bytes msg_cork_bytes
    msg_pull_data bind xdp_adjust_tail skb_get_xfrm_state get_stack skb_load_bytes_relative
    fib_lookup sock_hash_update msg_redirect_hash sk_redirect_hash lwt_push_encap
    lwt_seg6_store_bytes lwt_seg6_adjust_srh lwt_seg6_action rc_repeat rc_keydown
    skb_cgroup_id get_current_cgroup_id get_local_storage sk_select_reuseport
    skb_ancestor_cgroup_id sk_lookup_tcp sk_lookup_udp sk_release map_push_elem
    map_pop_elem map_peek_elem msg_push_data msg_pop_data rc_pointer_rel spin_lock
    spin_unlock sk_fullsock tcp_sock skb_ecn_set_ce get_listener_sock skc_lookup_tcp
    tcp_check_syncookie sysctl_get_name sysctl_get_current_value sysctl_get_new_value
    sysctl_set_new_value strtol strtoul sk_storage_get sk_storage_delete send_signal
    tcp_gen_syncookie skb_output probe_read_user probe_read_kernel probe_read_user_str
    probe_read_kernel_str tcp_send_ack send_signal_thread jiffies64 read_branch_records
    get_ns_current_pid_tgid xdp_output get_netns_cookie get_current_ancestor_cgroup_id
    sk_assign ktime_get_boot_ns seq_printf seq_write sk_cgroup_id sk_ancestor_cgroup_id
    ringbuf_output ringbuf_reserve ringbuf_submit ringbuf_discard ringbuf_query csum_level
    skc_to_tcp6_sock skc_to_tcp_sock skc_to_tcp_timewait_sock skc_to_tcp_request_sock
    skc_to_udp6_sock get_task_stack load_hdr_opt store_hdr_opt reserve_hdr_opt
    inode_storage_get inode_storage_delete d_path copy_from_user snprintf_btf
    seq_printf_btf skb_cgroup_classid redirect_neigh per_cpu_ptr this_cpu_ptr redirect_peer
    task_storage_get task_storage_delete get_current_task_btf bprm_opts_set
    ktime_get_coarse_ns ima_inode_hash sock_from_file check_mtu for_each_map_elem snprintf
    sys_bpf btf_find_by_name_kind sys_close timer_init timer_set_callback timer_start
    timer_cancel get_func_ip get_attach_cookie task_pt_regs get_branch_snapshot
    trace_vprintk skc_to_unix_sock kallsyms_lookup_name find_vma loop strncmp get_func_arg
    get_func_ret get_func_arg_cnt get_retval set_retval xdp_get_buff_len xdp_load_bytes
    xdp_store_bytes copy_from_user_task skb_set_tstamp ima_file_hash kptr_xchg
    map_lookup_percpu_elem skc_to_mptcp_sock dynptr_from_mem ringbuf_reserve_dynptr
    ringbuf_submit_dynptr ringbuf_discard_dynptr dynptr_read dynptr_write dynptr_data
    tcp_raw_gen_syncookie_ipv4 tcp_raw_gen_syncookie_ipv6 tcp_raw_check_syncookie_ipv4
    tcp_raw_check_syncookie_ipv6 ktime_get_tai_ns user_ringbuf_drain cgrp_storage_get
    cgrp_storage_delete
"""
HELPER_NAMES: Mapping[int, str] = dict(enumerate(_UAPI_ORDER.split(), start=1))

#: Metadata names, sk_buff fields unless said otherwise. No helper writes the
#: first group: programs store them directly through the context
#: (``skb->mark = ...``); they are here so that the whole analyzer shares one
#: vocabulary.
METADATA_FIELDS: frozenset[str] = frozenset(
    {
        "mark",  # skb->mark (OVS pkt_mark)
        "priority",  # skb->priority (OVS skb_priority)
        "tc_index",  # skb->tc_index
        "tc_classid",  # skb->tc_classid (qdisc_skb_cb)
        "queue_mapping",  # skb->queue_mapping
        "cb",  # skb->cb[] (qdisc_skb_cb data)
        "hash",  # skb->hash, l4_hash, sw_hash
        "csum",  # skb->csum, ip_summed, csum_level
        "tstamp",  # skb->tstamp and its clock type
        "pkt_type",  # skb->pkt_type
        "protocol",  # skb->protocol
        "vlan",  # skb->vlan_proto, vlan_tci (the accelerated tag)
        "tunnel",  # skb->dst as tunnel metadata (metadata_dst)
        "sk",  # skb->sk
        "encapsulation",  # skb->encapsulation, inner headers, gso type
        "data_meta",  # xdp_buff->data_meta: the XDP metadata area
    }
)

#: The helpers for which the verifier forgets every packet pointer after the
#: call: ``bpf_helper_changes_pkt_data()`` in net/core/filter.c as of Linux
#: 6.13-6.18 (uapi names). ``tail_call`` joined in 6.13 (commit 1a4607ffba35,
#: "bpf: consider that tail calls invalidate packet pointers").
CHANGES_PKT_DATA: frozenset[str] = frozenset(
    {
        "clone_redirect",
        "l3_csum_replace",
        "l4_csum_replace",
        "lwt_push_encap",
        "lwt_seg6_action",
        "lwt_seg6_adjust_srh",
        "lwt_seg6_store_bytes",
        "msg_pop_data",
        "msg_pull_data",
        "msg_push_data",
        "skb_adjust_room",
        "skb_change_head",
        "skb_change_proto",
        "skb_change_tail",
        "skb_pull_data",
        "skb_store_bytes",
        "skb_vlan_pop",
        "skb_vlan_push",
        "store_hdr_opt",
        "tail_call",
        "xdp_adjust_head",
        "xdp_adjust_meta",
        "xdp_adjust_tail",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HelperEffect:
    """The effects of one helper or kfunc on the packet, its metadata and maps."""

    kind: Literal["helper", "kfunc"]
    name: str
    source: str
    id: int | None = None
    writes_packet_bytes: bool = False
    offset_arg: int | None = None
    length_arg: int | None = None
    length: int | None = None
    writes_fields: tuple[str, ...] = ()
    changes_length_or_layout: bool = False
    writes_metadata: tuple[str, ...] = ()
    invalidates_packet_pointers: bool = False
    tail_call: bool = False
    refused_in_ovs: bool = False
    writes_map: bool = False
    writes_memory: tuple[tuple[int, int | None, int | None], ...] = ()
    fixed_span: tuple[int, int] | None = None
    note: str = ""

    @property
    def symbol(self) -> str:
        """The name the verifier log prints in ``call NAME#N``."""
        return f"bpf_{self.name}" if self.kind == "helper" else self.name

    @property
    def reads_only(self) -> bool:
        """Whether the call leaves packet, metadata and control flow alone (maps aside)."""
        return not (
            self.writes_packet_bytes
            or self.writes_fields
            or self.changes_length_or_layout
            or self.writes_metadata
            or self.invalidates_packet_pointers
            or self.tail_call
            or self.refused_in_ovs
        )


def _helper(helper_id: int, name: str, source: str, **effects: Any) -> HelperEffect:
    return HelperEffect(kind="helper", id=helper_id, name=name, source=source, **effects)


def _kfunc(name: str, source: str, **effects: Any) -> HelperEffect:
    return HelperEffect(kind="kfunc", name=name, source=source, **effects)


_FILTER = "net/core/filter.c"
_HELPERS_C = "kernel/bpf/helpers.c"
_REDIRECT = (
    "sends the packet to another device or CPU instead of returning it; an "
    "OVS action continues or drops, and OVS forwards with output:"
)
_NO_TUNNEL = (
    "tunnel metadata lives in skb->dst, which the skb BPF_PROG_TEST_RUN builds "
    "does not have and does not return: match tunnel fields in OpenFlow, set "
    "them with set_field:...->tun_id, pass values in with bpf(NAME,arg=N)"
)
_NO_SOCKET = (
    "answers from the socket's cgroup (skb->sk); packets OVS runs through "
    "BPF_PROG_TEST_RUN have no socket, so the answer never changes"
)

#: Helpers, by uapi number. Argument numbers are 1-based (R1 = 1).
HELPERS: tuple[HelperEffect, ...] = (
    # --- reading, no effect on the packet --------------------------------
    _helper(1, "map_lookup_elem", "kernel/bpf/helpers.c: bpf_map_lookup_elem"),
    _helper(2, "map_update_elem", "kernel/bpf/helpers.c: bpf_map_update_elem", writes_map=True),
    _helper(3, "map_delete_elem", "kernel/bpf/helpers.c: bpf_map_delete_elem", writes_map=True),
    _helper(5, "ktime_get_ns", "kernel/bpf/helpers.c: bpf_ktime_get_ns"),
    _helper(6, "trace_printk", "kernel/trace/bpf_trace.c: bpf_trace_printk"),
    _helper(7, "get_prandom_u32", "kernel/bpf/helpers.c: bpf_user_rnd_u32"),
    _helper(8, "get_smp_processor_id", "kernel/bpf/helpers.c: bpf_get_smp_processor_id"),
    # perf_event_output from tc/XDP is bpf_skb_event_output / bpf_xdp_event_output:
    # it copies packet bytes out, it does not change them.
    _helper(25, "perf_event_output", f"{_FILTER}: bpf_skb_event_output"),
    _helper(26, "skb_load_bytes", f"{_FILTER}: bpf_skb_load_bytes", writes_memory=((3, 4, None),)),
    _helper(28, "csum_diff", f"{_FILTER}: bpf_csum_diff"),
    _helper(
        68,
        "skb_load_bytes_relative",
        f"{_FILTER}: bpf_skb_load_bytes_relative",
        writes_memory=((3, 4, None),),
    ),
    _helper(87, "map_push_elem", "kernel/bpf/helpers.c: bpf_map_push_elem", writes_map=True),
    _helper(
        88,
        "map_pop_elem",
        "kernel/bpf/helpers.c: bpf_map_pop_elem",
        writes_map=True,
        writes_memory=((2, None, None),),
    ),
    _helper(
        89,
        "map_peek_elem",
        "kernel/bpf/helpers.c: bpf_map_peek_elem",
        writes_memory=((2, None, None),),
    ),
    _helper(125, "ktime_get_boot_ns", "kernel/bpf/helpers.c: bpf_ktime_get_boot_ns"),
    # Both put a record into the ring buffer: a map write, as update is.
    _helper(130, "ringbuf_output", "kernel/bpf/ringbuf.c: bpf_ringbuf_output", writes_map=True),
    _helper(131, "ringbuf_reserve", "kernel/bpf/ringbuf.c: bpf_ringbuf_reserve", writes_map=True),
    _helper(132, "ringbuf_submit", "kernel/bpf/ringbuf.c: bpf_ringbuf_submit"),
    _helper(133, "ringbuf_discard", "kernel/bpf/ringbuf.c: bpf_ringbuf_discard"),
    _helper(160, "ktime_get_coarse_ns", "kernel/bpf/helpers.c: bpf_ktime_get_coarse_ns"),
    _helper(189, "xdp_load_bytes", f"{_FILTER}: bpf_xdp_load_bytes", writes_memory=((3, 4, None),)),
    _helper(
        201, "dynptr_read", "kernel/bpf/helpers.c: bpf_dynptr_read", writes_memory=((1, 2, None),)
    ),
    _helper(208, "ktime_get_tai_ns", "kernel/bpf/helpers.c: bpf_ktime_get_tai_ns"),
    _helper(42, "get_numa_node_id", "kernel/bpf/helpers.c: bpf_get_numa_node_id"),
    _helper(118, "jiffies64", "kernel/bpf/helpers.c: bpf_jiffies64"),
    _helper(188, "xdp_get_buff_len", f"{_FILTER}: bpf_xdp_get_buff_len"),
    # A route lookup in the FIB of the device's namespace: it reads the
    # packet's addresses from its parameter struct (R2, R3 bytes: ARG_PTR_TO_MEM
    # | MEM_WRITE) and writes the answer there (next hop, MAC addresses,
    # ifindex); nothing else changes. Its proto has no pkt_access, so the
    # verifier refuses a packet pointer there, but a dynptr slice of the
    # packet is plain memory to it: the write is kept as a packet write.
    _helper(
        69,
        "fib_lookup",
        f"{_FILTER}: bpf_skb_fib_lookup",  # bpf_xdp_fib_lookup alike
        writes_memory=((2, 3, None),),
    ),
    # Writes the device's MTU to the aligned u32 at R3 (ARG_PTR_TO_FIXED_SIZE_MEM
    # | MEM_WRITE | MEM_ALIGNED, arg3_size 4): as fib_lookup's, packet bytes
    # only through a dynptr slice.
    _helper(
        163,
        "check_mtu",
        f"{_FILTER}: bpf_skb_check_mtu",  # bpf_xdp_check_mtu alike
        writes_memory=((3, None, 4),),
        note="with ifindex 0 it answers for skb->dev, which is the loopback device when "
        "OVS runs the program with BPF_PROG_TEST_RUN: pass the output port's ifindex",
    ),
    # --- packet bytes -----------------------------------------------------
    # flags BPF_F_RECOMPUTE_CSUM updates skb->csum, BPF_F_INVALIDATE_HASH
    # clears skb->hash (skb_clear_hash).
    _helper(
        9,
        "skb_store_bytes",
        f"{_FILTER}: bpf_skb_store_bytes",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=4,
        writes_metadata=("csum", "hash"),
        invalidates_packet_pointers=True,
    ),
    # Both rewrite the 16-bit checksum field at the offset in R2; the l4
    # variant also folds the change into skb->csum (inet_proto_csum_replace*).
    _helper(
        10,
        "l3_csum_replace",
        f"{_FILTER}: bpf_l3_csum_replace",
        writes_packet_bytes=True,
        offset_arg=2,
        length=2,
        invalidates_packet_pointers=True,
    ),
    _helper(
        11,
        "l4_csum_replace",
        f"{_FILTER}: bpf_l4_csum_replace",
        writes_packet_bytes=True,
        offset_arg=2,
        length=2,
        writes_metadata=("csum",),
        invalidates_packet_pointers=True,
    ),
    # INET_ECN_set_ce(): IPv4 tos (and its header checksum) or the IPv6
    # traffic class, found from the network header, not from an argument.
    # The protocol is looked up behind VLAN tags (skb_protocol(skb, true)),
    # but the network header stays where BPF_PROG_TEST_RUN put it, at 14: on
    # a tagged frame the helper writes the TCI's low byte and bytes 24-25
    # (the inner ip.frag, or ip.len under QinQ). writes_fields holds only on
    # a frame the path proved untagged (analyzer/effects.py).
    _helper(
        97,
        "skb_ecn_set_ce",
        f"{_FILTER}: bpf_skb_ecn_set_ce",
        writes_packet_bytes=True,
        writes_fields=("ip.tos", "ip.csum", "ipv6.tc"),
        # The network header is at 14 (eth_type_trans(), net/ethernet/eth.c),
        # and INET_ECN_set_ce() (include/net/inet_ecn.h) acts only when the
        # protocol is IPv4 (tos 15, csum 24-25) or IPv6 (traffic class 14-15).
        fixed_span=(14, 25),
        note="writes the ECN bits but is not on the kernel's invalidation list",
    ),
    _helper(
        190,
        "xdp_store_bytes",
        f"{_FILTER}: bpf_xdp_store_bytes",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=4,
        note="writes bytes but is not on the kernel's invalidation list",
    ),
    # On an skb dynptr, __bpf_dynptr_write() calls __bpf_skb_store_bytes();
    # check_helper_call() then sets changes_data for BPF_DYNPTR_TYPE_SKB.
    _helper(
        202,
        "dynptr_write",
        f"{_HELPERS_C}: bpf_dynptr_write",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=4,
        invalidates_packet_pointers=True,
        note=(
            "writes the packet when the dynptr is an skb or xdp dynptr; the "
            "verifier invalidates packet pointers for skb dynptrs "
            "(kernel/bpf/verifier.c: check_helper_call)"
        ),
    ),
    # --- length and layout ------------------------------------------------
    _helper(
        18,
        "skb_vlan_push",
        f"{_FILTER}: bpf_skb_vlan_push",
        changes_length_or_layout=True,
        writes_metadata=("vlan", "protocol"),
        invalidates_packet_pointers=True,
        note=(
            "skb_vlan_push(): a tag already in skb->vlan_tci moves into the "
            "packet, the new one goes to skb->vlan_tci"
        ),
    ),
    _helper(
        19,
        "skb_vlan_pop",
        f"{_FILTER}: bpf_skb_vlan_pop",
        changes_length_or_layout=True,
        writes_metadata=("vlan", "protocol"),
        invalidates_packet_pointers=True,
    ),
    _helper(
        31,
        "skb_change_proto",
        f"{_FILTER}: bpf_skb_change_proto",
        changes_length_or_layout=True,
        writes_metadata=("protocol",),
        invalidates_packet_pointers=True,
    ),
    _helper(
        38,
        "skb_change_tail",
        f"{_FILTER}: bpf_skb_change_tail",
        changes_length_or_layout=True,
        invalidates_packet_pointers=True,
    ),
    # Makes bytes linear (pskb_may_pull/skb_ensure_writable): content and
    # length stay, the data pointers move.
    _helper(
        39,
        "skb_pull_data",
        f"{_FILTER}: bpf_skb_pull_data",
        invalidates_packet_pointers=True,
    ),
    _helper(
        43,
        "skb_change_head",
        f"{_FILTER}: bpf_skb_change_head",
        changes_length_or_layout=True,
        invalidates_packet_pointers=True,
    ),
    _helper(
        44,
        "xdp_adjust_head",
        f"{_FILTER}: bpf_xdp_adjust_head",
        changes_length_or_layout=True,
        invalidates_packet_pointers=True,
    ),
    _helper(
        50,
        "skb_adjust_room",
        f"{_FILTER}: bpf_skb_adjust_room",
        changes_length_or_layout=True,
        writes_metadata=("encapsulation",),
        invalidates_packet_pointers=True,
    ),
    # Moves xdp->data_meta: the metadata area in front of the packet, not
    # the packet itself.
    _helper(
        54,
        "xdp_adjust_meta",
        f"{_FILTER}: bpf_xdp_adjust_meta",
        writes_metadata=("data_meta",),
        invalidates_packet_pointers=True,
    ),
    _helper(
        65,
        "xdp_adjust_tail",
        f"{_FILTER}: bpf_xdp_adjust_tail",
        changes_length_or_layout=True,
        invalidates_packet_pointers=True,
    ),
    # --- metadata ---------------------------------------------------------
    _helper(
        32, "skb_change_type", f"{_FILTER}: bpf_skb_change_type", writes_metadata=("pkt_type",)
    ),
    # skb_get_hash() computes and caches skb->hash when it is not set yet.
    _helper(
        34,
        "get_hash_recalc",
        f"{_FILTER}: bpf_get_hash_recalc",
        writes_metadata=("hash",),
        note="returns the hash, computing and storing it in skb->hash when unset",
    ),
    _helper(40, "csum_update", f"{_FILTER}: bpf_csum_update", writes_metadata=("csum",)),
    _helper(41, "set_hash_invalid", f"{_FILTER}: bpf_set_hash_invalid", writes_metadata=("hash",)),
    _helper(48, "set_hash", f"{_FILTER}: bpf_set_hash", writes_metadata=("hash",)),
    _helper(135, "csum_level", f"{_FILTER}: bpf_csum_level", writes_metadata=("csum",)),
    _helper(192, "skb_set_tstamp", f"{_FILTER}: bpf_skb_set_tstamp", writes_metadata=("tstamp",)),
    # --- control flow -----------------------------------------------------
    _helper(
        12,
        "tail_call",
        "kernel/bpf/verifier.c: check_helper_call",
        tail_call=True,
        invalidates_packet_pointers=True,
        note=(
            "the jump is JIT or interpreter code (no C function); the verifier "
            "treats it as changing packet data since Linux 6.13. The called "
            "program is analysed separately or the verdict is unknown"
        ),
    ),
    # --- refused by extframe --------------------------------------------
    _helper(
        13,
        "clone_redirect",
        f"{_FILTER}: bpf_clone_redirect",
        refused_in_ovs=True,
        invalidates_packet_pointers=True,
        note=f"transmits a clone of the packet on a device; {_REDIRECT}",
    ),
    _helper(23, "redirect", f"{_FILTER}: bpf_redirect", refused_in_ovs=True, note=_REDIRECT),
    _helper(
        51, "redirect_map", f"{_FILTER}: bpf_xdp_redirect_map", refused_in_ovs=True, note=_REDIRECT
    ),
    _helper(
        152, "redirect_neigh", f"{_FILTER}: bpf_redirect_neigh", refused_in_ovs=True, note=_REDIRECT
    ),
    _helper(
        155, "redirect_peer", f"{_FILTER}: bpf_redirect_peer", refused_in_ovs=True, note=_REDIRECT
    ),
    _helper(
        124,
        "sk_assign",
        f"{_FILTER}: bpf_sk_assign",
        refused_in_ovs=True,
        writes_metadata=("sk",),
        note=(
            "steers the packet to a local socket on the ingress path; the "
            "packet OVS hands to BPF_PROG_TEST_RUN is a copy that never "
            "reaches a socket"
        ),
    ),
    _helper(
        20,
        "skb_get_tunnel_key",
        f"{_FILTER}: bpf_skb_get_tunnel_key",
        refused_in_ovs=True,
        note=_NO_TUNNEL,
    ),
    _helper(
        21,
        "skb_set_tunnel_key",
        f"{_FILTER}: bpf_skb_set_tunnel_key",
        refused_in_ovs=True,
        writes_metadata=("tunnel",),
        note=_NO_TUNNEL,
    ),
    _helper(
        29,
        "skb_get_tunnel_opt",
        f"{_FILTER}: bpf_skb_get_tunnel_opt",
        refused_in_ovs=True,
        note=_NO_TUNNEL,
    ),
    _helper(
        30,
        "skb_set_tunnel_opt",
        f"{_FILTER}: bpf_skb_set_tunnel_opt",
        refused_in_ovs=True,
        writes_metadata=("tunnel",),
        note=_NO_TUNNEL,
    ),
    _helper(
        33,
        "skb_under_cgroup",
        f"{_FILTER}: bpf_skb_under_cgroup",
        refused_in_ovs=True,
        note=_NO_SOCKET,
    ),
    _helper(
        79,
        "skb_cgroup_id",
        f"{_FILTER}: bpf_skb_cgroup_id",
        refused_in_ovs=True,
        note=_NO_SOCKET,
    ),
    _helper(
        83,
        "skb_ancestor_cgroup_id",
        f"{_FILTER}: bpf_skb_ancestor_cgroup_id",
        refused_in_ovs=True,
        note=_NO_SOCKET,
    ),
)

#: Kfuncs, by name. Argument numbers are 1-based (R1 = 1).
KFUNCS: tuple[HelperEffect, ...] = (
    # Creating a dynptr writes only the bpf_dynptr on the stack.
    _kfunc("bpf_dynptr_from_skb", f"{_FILTER}: bpf_dynptr_from_skb"),
    _kfunc("bpf_dynptr_from_xdp", f"{_FILTER}: bpf_dynptr_from_xdp"),
    _kfunc("bpf_dynptr_slice", f"{_HELPERS_C}: bpf_dynptr_slice"),
    # The slice is a writable pointer into the packet (or into the buffer
    # in R3 when the bytes are not linear): writes go through the returned
    # ``mem`` pointer, not through a packet pointer, so the call itself is
    # the evidence.
    _kfunc(
        "bpf_dynptr_slice_rdwr",
        f"{_HELPERS_C}: bpf_dynptr_slice_rdwr",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=4,
        note="returns a writable pointer into the packet; stores through it are packet writes",
    ),
    _kfunc(
        "bpf_dynptr_memset",
        f"{_HELPERS_C}: bpf_dynptr_memset",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=3,
        note="writes the packet when the dynptr is an skb or xdp dynptr",
    ),
    _kfunc(
        "bpf_dynptr_copy",
        f"{_HELPERS_C}: bpf_dynptr_copy",
        writes_packet_bytes=True,
        offset_arg=2,
        length_arg=5,
        note="writes the packet when the destination (R1) is an skb or xdp dynptr",
    ),
    # is_kfunc_pkt_changing() in kernel/bpf/verifier.c (Linux 6.18).
    _kfunc(
        "bpf_xdp_pull_data",
        f"{_FILTER}: bpf_xdp_pull_data",
        invalidates_packet_pointers=True,
        note="moves bytes from fragments into the linear area; content and length stay",
    ),
)


def _each(names: str, why: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), why)


_TASK = "answers about the task or cgroup that runs the program, which in OVS is a switch thread"
_SOCKET = "looks up, casts or reads a socket or its storage"
_CALLBACK = "runs a callback of the program, which may write what the caller can reach"
_MEMORY = "reads or writes memory or maps through pointers it returns or takes"
_TRACE = "formats or reads memory for tracing"

#: Helpers the kernel offers to tc or XDP programs that the table has no row
#: for, by uapi name, with why. A program that calls one gets ``unknown``,
#: and the reason names the helper. tests/kernel/test_helper_coverage.py fails
#: when the running kernel offers a helper that is neither here nor in
#: ``HELPERS``.
HELPERS_NOT_MODELLED: Mapping[str, str] = {
    **_each(
        (
            "get_current_pid_tgid get_current_uid_gid get_current_comm get_cgroup_classid "
            "get_current_task current_task_under_cgroup get_current_cgroup_id "
            "get_ns_current_pid_tgid get_current_ancestor_cgroup_id get_task_stack "
            "get_current_task_btf task_pt_regs send_signal send_signal_thread "
            "task_storage_get task_storage_delete cgrp_storage_get cgrp_storage_delete "
            "find_vma get_branch_snapshot "
            "perf_event_read perf_event_read_value"
        ),
        _TASK,
    ),
    **_each(
        (
            "get_route_realm get_socket_cookie get_socket_uid get_netns_cookie "
            "skb_get_xfrm_state skb_cgroup_classid sk_lookup_tcp sk_lookup_udp sk_release "
            "sk_fullsock tcp_sock get_listener_sock skc_lookup_tcp tcp_check_syncookie "
            "tcp_gen_syncookie sk_storage_get sk_storage_delete skc_to_tcp6_sock "
            "skc_to_tcp_sock skc_to_tcp_timewait_sock skc_to_tcp_request_sock "
            "skc_to_udp6_sock skc_to_unix_sock skc_to_mptcp_sock tcp_raw_gen_syncookie_ipv4 "
            "tcp_raw_gen_syncookie_ipv6 tcp_raw_check_syncookie_ipv4 "
            "tcp_raw_check_syncookie_ipv6"
        ),
        _SOCKET,
    ),
    **_each(
        (
            "loop for_each_map_elem timer_init timer_set_callback timer_start timer_cancel "
            "user_ringbuf_drain"
        ),
        _CALLBACK,
    ),
    **_each(
        (
            "spin_lock spin_unlock strtol strtoul strncmp per_cpu_ptr this_cpu_ptr kptr_xchg "
            "map_lookup_percpu_elem ringbuf_query dynptr_from_mem ringbuf_reserve_dynptr "
            "ringbuf_submit_dynptr ringbuf_discard_dynptr dynptr_data"
        ),
        _MEMORY,
    ),
    **_each(
        (
            "probe_read_user probe_read_kernel probe_read_user_str probe_read_kernel_str "
            "snprintf snprintf_btf trace_vprintk"
        ),
        _TRACE,
    ),
}

_K_TASK = (
    "acquires, looks up or iterates over kernel objects (tasks, cgroups, VMAs), "
    "iterates over numbers or bits, or schedules work"
)
_K_GRAPH = "allocates or links program-owned objects (lists, rbtrees, refcounts)"
_K_SYNC = "locks, or enters or leaves an RCU, IRQ or preemption section"
_K_CT = "looks up or changes a conntrack entry or an XFRM state"
_K_MEMORY = "reads or copies memory, strings or keys"
_K_DYNPTR = "adjusts or inspects a dynptr, which may cover packet bytes"
_K_CTX = "reads driver metadata, casts the context or stops the program"

#: Kfuncs the kernel offers to tc or XDP programs that ``KFUNCS`` has no row
#: for, by name, with why; as ``HELPERS_NOT_MODELLED``.
KFUNCS_NOT_MODELLED: Mapping[str, str] = {
    **_each(
        (
            "bpf_cgroup_acquire bpf_cgroup_ancestor bpf_cgroup_from_id bpf_cgroup_release "
            "bpf_cgroup_read_xattr bpf_task_acquire bpf_task_from_pid bpf_task_from_vpid "
            "bpf_task_get_cgroup1 bpf_task_release bpf_task_under_cgroup bpf_send_signal_task "
            "bpf_task_work_schedule_resume_impl bpf_task_work_schedule_signal_impl "
            "bpf_get_kmem_cache bpf_iter_css_destroy bpf_iter_css_new bpf_iter_css_next "
            "bpf_iter_css_task_destroy bpf_iter_css_task_new bpf_iter_css_task_next "
            " "
            " "
            "bpf_iter_task_destroy bpf_iter_task_new bpf_iter_task_next "
            "bpf_iter_task_vma_destroy bpf_iter_task_vma_new bpf_iter_task_vma_next "
            "bpf_iter_bits_destroy bpf_iter_bits_new bpf_iter_bits_next "
            "bpf_iter_num_destroy bpf_iter_num_new bpf_iter_num_next bpf_map_sum_elem_count "
            "bpf_wq_init bpf_wq_set_callback_impl bpf_wq_start"
        ),
        _K_TASK,
    ),
    **_each(
        (
            "bpf_list_back bpf_list_front bpf_list_pop_back bpf_list_pop_front "
            "bpf_list_push_back_impl bpf_list_push_front_impl bpf_obj_drop_impl "
            "bpf_obj_new_impl bpf_percpu_obj_drop_impl bpf_percpu_obj_new_impl "
            "bpf_rbtree_add_impl bpf_rbtree_first bpf_rbtree_left bpf_rbtree_remove "
            "bpf_rbtree_right bpf_rbtree_root bpf_refcount_acquire_impl"
        ),
        _K_GRAPH,
    ),
    **_each(
        (
            "bpf_local_irq_restore bpf_local_irq_save bpf_preempt_disable bpf_preempt_enable "
            "bpf_rcu_read_lock bpf_rcu_read_unlock bpf_res_spin_lock "
            "bpf_res_spin_lock_irqsave bpf_res_spin_unlock bpf_res_spin_unlock_irqrestore"
        ),
        _K_SYNC,
    ),
    **_each(
        (
            "bpf_ct_change_status bpf_ct_change_timeout bpf_ct_insert_entry bpf_ct_release "
            "bpf_ct_set_nat_info bpf_ct_set_status bpf_ct_set_timeout bpf_skb_ct_alloc "
            "bpf_skb_ct_lookup bpf_xdp_ct_alloc bpf_xdp_ct_lookup bpf_xdp_get_xfrm_state "
            "bpf_xdp_xfrm_state_release bpf_sk_assign_tcp_reqsk"
        ),
        _K_CT,
    ),
    **_each(
        (
            " "
            " "
            " bpf_probe_read_kernel_dynptr "
            "bpf_probe_read_kernel_str_dynptr bpf_probe_read_user_dynptr "
            "bpf_probe_read_user_str_dynptr bpf_crypto_decrypt bpf_crypto_encrypt "
            "bpf_key_put bpf_lookup_system_key bpf_strcasecmp "
            "bpf_strchr bpf_strchrnul bpf_strcmp bpf_strcspn bpf_strlen bpf_strnchr "
            "bpf_strnlen bpf_strnstr bpf_strrchr bpf_strspn bpf_strstr "
            "bpf_stream_vprintk_impl bpf_kfunc_call_memb_release "
            "bpf_kfunc_call_test_release bpf_modify_return_test_tp"
        ),
        _K_MEMORY,
    ),
    **_each(
        (
            "bpf_dynptr_adjust bpf_dynptr_clone bpf_dynptr_from_skb_meta bpf_dynptr_is_null "
            "bpf_dynptr_is_rdonly bpf_dynptr_size"
        ),
        _K_DYNPTR,
    ),
    **_each(
        (
            "bpf_cast_to_kern_ctx bpf_rdonly_cast bpf_throw __bpf_trap "
            "bpf_xdp_metadata_rx_hash bpf_xdp_metadata_rx_timestamp "
            "bpf_xdp_metadata_rx_vlan_tag"
        ),
        _K_CTX,
    ),
}

_BY_ID: Mapping[int, HelperEffect] = {h.id: h for h in HELPERS if h.id is not None}
_BY_NAME: Mapping[str, HelperEffect] = {h.name: h for h in HELPERS}
_KFUNC_BY_NAME: Mapping[str, HelperEffect] = {k.name: k for k in KFUNCS}


def helper_by_id(helper_id: int) -> HelperEffect | None:
    """The row for helper number ``helper_id``, or None when the table does not know it."""
    return _BY_ID.get(helper_id)


def helper_by_name(name: str) -> HelperEffect | None:
    """The row for a helper by uapi name (``skb_store_bytes``) or symbol (``bpf_…``)."""
    return _BY_NAME.get(name) or _BY_NAME.get(name.removeprefix("bpf_"))


def helper_symbol(helper_id: int) -> str:
    """``bpf_`` and the uapi name of helper ``helper_id`` (``bpf_fib_lookup``), as the
    verifier prints it, or ``helper#N`` for a number ``HELPER_NAMES`` lacks (a
    newer kernel's)."""
    name = HELPER_NAMES.get(helper_id)
    return f"bpf_{name}" if name else f"helper#{helper_id}"


def not_modelled_why(kind: Literal["helper", "kfunc"], name: str) -> str | None:
    """Why the table has no row for helper or kfunc ``name`` (a helper with or
    without ``bpf_``), which Linux 6.18 offers tc or XDP programs; None for any
    other name: a newer kernel's, or one 6.18 offers neither type."""
    if kind == "helper":
        return HELPERS_NOT_MODELLED.get(name.removeprefix("bpf_"))
    return KFUNCS_NOT_MODELLED.get(name)


def kfunc_by_name(name: str) -> HelperEffect | None:
    """The row for kfunc ``name`` (``bpf_dynptr_slice_rdwr``), or None when unknown."""
    return _KFUNC_BY_NAME.get(name)
