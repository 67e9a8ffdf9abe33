/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * icmp_payload - write the 4 bytes after an ICMP header (its payload),
 * behind an IPv4 header of any IHL.
 * Effect: writes [42, 85]; the flow key (ICMP type and code) is untouched.
 */
#include "extframe.h"

SEC("tc")
int icmp_payload(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)data;
	struct iphdr *ip = (void *)(eth + 1);
	struct icmphdr *icmp;
	unsigned char *p;

	if ((void *)(ip + 1) > (void *)end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	if (ip->ihl < 5 || ip->protocol != IPPROTO_ICMP) {
		return EXTFRAME_CONTINUE;
	}
	icmp = (void *)((unsigned char *)ip + ip->ihl * 4);
	if ((void *)(icmp + 1) > (void *)end) {
		return EXTFRAME_CONTINUE;
	}
	p = (unsigned char *)(icmp + 1);
	if (p + 4 > end) {
		return EXTFRAME_CONTINUE;
	}
	p[0] = 0;
	p[1] = 1;
	p[2] = 2;
	p[3] = 3;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
