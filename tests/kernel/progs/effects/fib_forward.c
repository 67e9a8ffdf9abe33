/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fib_forward - look the IPv4 destination up in the FIB with
 * bpf_fib_lookup() into a stack struct, then write the next hop's MAC
 * addresses into the Ethernet header, as a forwarder does.
 * Effect: writes [0, 11] (both MAC addresses); the lookup itself writes only
 * its parameter struct on the stack.  The MACs are written whatever the
 * lookup answered (zeros where it found no route or neighbour), so that the
 * dynamic oracle sees the writes on a host whose FIB routes nothing.
 */
#include "extframe.h"

#define AF_INET 2

SEC("tc")
int fib_forward(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct bpf_fib_lookup fib = {};
	struct iphdr *ip = (void *)(data + 14);

	if ((void *)(ip + 1) > (void *)end || ((struct ethhdr *)data)->h_proto != bpf_htons(ETH_P_IP)) {
		return EXTFRAME_CONTINUE;
	}
	fib.family = AF_INET;
	fib.tos = ip->tos;
	fib.l4_protocol = ip->protocol;
	fib.tot_len = bpf_ntohs(ip->tot_len);
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = ip->daddr;
	fib.ifindex = skb->ifindex;
	bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + 14 > end) {
		return EXTFRAME_CONTINUE;
	}
	__builtin_memcpy(data, fib.dmac, 6);
	__builtin_memcpy(data + 6, fib.smac, 6);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
