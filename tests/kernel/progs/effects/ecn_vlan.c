/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ecn_vlan - bpf_skb_ecn_set_ce() on frames the program checked carry one
 * 802.1Q tag and IPv4 inside.  The kernel finds the protocol behind the tag
 * (skb_protocol(skb, true)) but the network header BPF_PROG_TEST_RUN set
 * stays at byte 14, on the tag: the "tos" it marks is the TCI's low byte,
 * and the "checksum" it patches is the inner header's flags and fragment
 * offset.
 * Effect: writes [15, 15] and [24, 25]: vlan.tci and ip.frag, not ip.tos.
 */
#include "extframe.h"

SEC("tc")
int ecn_vlan(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)data;
	__be16 *inner = (void *)(data + 16);

	if ((void *)(inner + 1) > (void *)end || eth->h_proto != bpf_htons(ETH_P_8021Q)
	    || *inner != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	bpf_skb_ecn_set_ce(skb);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
