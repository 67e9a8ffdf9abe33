/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ecn_ipv4 - bpf_skb_ecn_set_ce() on frames the program checked are IPv4
 * (an untagged Ethernet type 0x0800).
 * Effect: ip.tos and ip.csum only, [15, 15] and [24, 25]: the helper's span
 * is [14, 25], but on IPv4 it writes only those two fields.
 */
#include "extframe.h"

SEC("tc")
int ecn_ipv4(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)data;

	if ((void *)(eth + 1) > (void *)end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	bpf_skb_ecn_set_ce(skb);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
