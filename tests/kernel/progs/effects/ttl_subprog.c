/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ttl_subprog - the entry point checks for IPv4 and passes the IP header to
 * a static subprogram (a real bpf-to-bpf call) that decrements the TTL.
 * Effect: writes [22, 22], ip.ttl only (the caller proved IPv4).
 */
#include "extframe.h"

static __attribute__((noinline)) int dec(struct iphdr *ip, void *end)
{
	if ((void *)(ip + 1) > end || ip->ttl <= 1) {
		return 0;
	}
	ip->ttl--;
	return 1;
}

SEC("tc")
int ttl_subprog(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)data;

	if ((void *)(eth + 1) > (void *)end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	return dec((void *)(eth + 1), end) ? EXTFRAME_CONTINUE : EXTFRAME_DROP;
}

char LICENSE[] SEC("license") = "GPL";
