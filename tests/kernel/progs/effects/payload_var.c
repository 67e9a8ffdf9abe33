/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * payload_var - write one UDP payload byte at an offset the mark gives
 * (0 to 63 bytes past the UDP header), behind an IPv4 header of any IHL.
 * Effect: writes [42, 145] (14 + 20..60 + 8 + 0..63), all of it UDP
 * payload on every layout: the flow key is untouched.
 */
#include "extframe.h"

SEC("tc")
int payload_var(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;
	unsigned char *p;
	__u32 off;

	if ((void *)(ip + 1) > (void *)end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	if (ip->ihl < 5 || ip->protocol != IPPROTO_UDP) {
		return EXTFRAME_CONTINUE;
	}
	udp = (void *)((unsigned char *)ip + ip->ihl * 4);
	if ((void *)(udp + 1) > (void *)end) {
		return EXTFRAME_CONTINUE;
	}
	off = skb->mark & 63;
	p = (unsigned char *)(udp + 1) + off;
	if (p + 1 > end) {
		return EXTFRAME_CONTINUE;
	}
	*p = 0;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
