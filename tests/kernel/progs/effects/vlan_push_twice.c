/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vlan_push_twice - bpf_skb_vlan_push() 802.1Q VLAN 7, then 802.1ad VLAN 9.
 * The second push moves the first (accelerated) tag into the bytes after
 * the MAC addresses and keeps 802.1ad/9 in skb->vlan_tci only.
 * Effect: a length change: +4 bytes, 81 00 00 07 inserted at offset 12.
 */
#include "extframe.h"

SEC("tc")
int vlan_push_twice(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 7) < 0) {
		return EXTFRAME_DROP;
	}
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD), 9) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
