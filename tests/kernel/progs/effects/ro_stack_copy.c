/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_stack_copy - copy the first 34 bytes (Ethernet + IPv4 header) to a
 * stack struct, decrement the copy's TTL and drop when it reaches 0.
 * Effect: none (read-only): every store goes to the stack copy.
 */
#include "extframe.h"

struct eth_ip {
	struct ethhdr eth;
	struct iphdr ip;
} __attribute__((packed));

SEC("tc")
int ro_stack_copy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct eth_ip copy;

	if (data + sizeof(copy) > end) {
		return EXTFRAME_CONTINUE;
	}
	__builtin_memcpy(&copy, data, sizeof(copy));
	copy.ip.ttl--;
	return copy.ip.ttl == 0 ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
