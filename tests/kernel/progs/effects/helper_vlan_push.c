/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vlan_push - bpf_skb_vlan_push() an 802.1Q tag with VLAN ID 7.
 * Effect: a layout change in intent, but the kernel puts the tag in the
 * skb's accelerated-VLAN field (skb->vlan_tci), not in the bytes, and
 * BPF_PROG_TEST_RUN returns neither: extframe run shows "packet unchanged",
 * same length (see vlan_push_twice.c for a push that reaches the bytes).
 */
#include "extframe.h"

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 7) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
