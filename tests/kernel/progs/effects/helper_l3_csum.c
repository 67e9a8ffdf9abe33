/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * helper_l3_csum - on IPv4, bpf_l3_csum_replace() on ip.csum (offset 24)
 * for a 2-byte word going from 0x0000 to 0x0101 (constants; the packet's
 * TTL is not really changed, so the checksum ends up wrong on purpose).
 * Effect: writes [24, 25].
 */
#include "extframe.h"

SEC("tc")
int helper_l3_csum(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 34 > end || data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	if (bpf_l3_csum_replace(skb, 24, bpf_htons(0x0000), bpf_htons(0x0101), 2) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
