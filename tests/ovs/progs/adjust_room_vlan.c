// SPDX-License-Identifier: GPL-2.0
/* bpf_skb_vlan_pop() and then bpf_skb_adjust_room(): the VLAN helpers move
 * the network header in ways the in-process executor does not follow, so
 * this program runs in the kernel, with the reason naming the
 * instruction. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int adjust_room_vlan(struct __sk_buff *skb)
{
	long r = bpf_skb_vlan_pop(skb);

	r = r * 1000 + bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC, 0);
	skb->mark = (__u32)r;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
