/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * store_fixed - on IPv4, decrement ip.ttl with one direct store at a fixed
 * packet offset; the checksum is deliberately left stale.
 * Effect: writes exactly [22, 22] (ip.ttl behind an untagged Ethernet header).
 */
#include "extframe.h"

SEC("tc")
int store_fixed(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 34 > end) {
		return EXTFRAME_CONTINUE;
	}
	if (data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	data[22] -= 1;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
