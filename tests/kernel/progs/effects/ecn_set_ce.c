/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ecn_set_ce - bpf_skb_ecn_set_ce(): mark an ECN-capable (ECT(0)/ECT(1))
 * packet Congestion Experienced.
 * Effect: IPv4 writes ip.tos and ip.csum, [15, 15] and [24, 25]; IPv6
 * writes the ECN bits of ipv6.tc, [15, 15]; Not-ECT, CE, VLAN-tagged and
 * non-IP packets are left alone (the helper goes by skb->protocol).
 */
#include "extframe.h"

SEC("tc")
int ecn_set_ce(struct __sk_buff *skb)
{
	bpf_skb_ecn_set_ce(skb);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
