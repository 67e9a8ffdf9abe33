/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vlan_push - push a VLAN tag in front of the frame's ethertype.
 *
 * Maps: none.
 *
 * Argument (extframe_arg(), cb[1]): the tag control information as it goes
 * on the wire, host byte order:
 *   bits 0-11   VLAN ID, 1 to 4094
 *   bit  12     DEI (drop eligible), copied as given
 *   bits 13-15  PCP (priority)
 *   bits 16-31  must be 0
 * e.g. bpf(vlan_push,arg=0xa00a) pushes VID 10 with PCP 5.
 *
 * TPID: 0x8100 (a customer tag, 802.1Q) on an untagged frame; 0x88a8 (a
 * service tag, 802.1ad) when the frame already carries one tag, so the new
 * tag goes outside it and the frame becomes the 802.1ad + 802.1Q pair that
 * OVS and extframe_parse_vlan() expect (OVS's dot1q-tunnel ports push the
 * same, other_config:qinq-ethtype defaults to 802.1ad).
 *
 * Verdict:
 *   untagged frame, any ethertype (IP,        tag 0x8100 + TCI inserted
 *   ARP, a bare 14-byte header, ...)           after the addresses, continue
 *   one tag (0x8100 or 0x88a8)                 tag 0x88a8 + TCI inserted
 *                                              outside it, continue
 *   two tags already                           drop, unchanged: a third tag
 *                                              is beyond OVS's flow key
 *                                              (FLOW_MAX_VLAN_HEADERS is 2)
 *                                              and the extframe parsers
 *   ethertype 0x8100/0x88a8 but the tag is     drop, unchanged (malformed:
 *   cut short (fewer than 4 bytes follow)      the tags cannot be counted)
 *   argument: VID 0 or 4095, or bits 16-31     drop, unchanged (VID 0 only
 *   not 0                                      carries a priority, 4095 is
 *                                              reserved: a misconfigured
 *                                              flow drops everything)
 *   a helper fails (not seen on the frames     error (OVS drops the packet)
 *   OVS hands over)
 * Nothing beyond the tags is parsed: IP fragments, options and truncated
 * L3/L4 headers are pushed like any other frame of their tag count.
 *
 * Why bpf_skb_change_head() + bpf_skb_store_bytes() and not
 * bpf_skb_vlan_push(): that helper puts the new tag in skb->vlan_tci, the
 * hardware-acceleration metadata, not in the bytes (a second push moves the
 * first tag into the bytes).  BPF_PROG_TEST_RUN returns only the bytes, so
 * OVS would lose the tag.  Growing the frame by 4 bytes at the front and
 * writing the addresses, TPID and TCI back is the same push done in the
 * bytes, still with helpers: skb_cow() and the length update stay in the
 * kernel.  bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC) would insert at the right
 * place but only accepts IPv4 and IPv6 frames.
 */
#include "extframe.h"

#define VLAN_PUSH_VID_MASK 0x0fff
#define VLAN_PUSH_VID_RESERVED 0x0fff

EXTFRAME_EFFECTS(writes("length"));

char LICENSE[] SEC("license") = "GPL";

/* Returns nonzero when the argument is a TCI this action pushes: VID 1 to
 * 4094 and nothing above bit 15. */
static __always_inline int
vlan_push_arg_valid(__u32 arg)
{
	__u32 vid = arg & VLAN_PUSH_VID_MASK;

	return arg <= 0xffff && vid != 0 && vid != VLAN_PUSH_VID_RESERVED;
}

/* Entry point: checks the argument, counts the tags already there and
 * inserts the new one outside them. */
SEC("tc")
int
vlan_push(struct __sk_buff *skb)
{
	__u32 arg = extframe_arg(skb);
	struct extframe_vlan_hdr *vh;
	struct extframe_cursor cur;
	__u16 eth_type, tpid;

	if (!vlan_push_arg_valid(arg)) {
		return EXTFRAME_DROP;
	}
	extframe_cursor_init(&cur, skb);
	if (!extframe_parse_eth(&cur, &eth_type)) {
		return EXTFRAME_ERROR;	/* OVS never passes < 14 bytes. */
	}
	if (!extframe_eth_type_is_vlan(eth_type)) {
		tpid = ETH_P_8021Q;
	} else {
		vh = cur.pos;
		if ((void *)(vh + 1) > cur.end) {
			return EXTFRAME_DROP;
		}
		if (extframe_eth_type_is_vlan(bpf_ntohs(vh->encap_proto))) {
			return EXTFRAME_DROP;
		}
		tpid = ETH_P_8021AD;
	}

	if (extframe_vlan_insert_tag(skb, bpf_htons(tpid), bpf_htons((__u16)arg))) {
		return EXTFRAME_ERROR;
	}
	return EXTFRAME_CONTINUE;
}
