/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * helper_l4_csum - on IPv4/TCP with ihl 5, bpf_l4_csum_replace() on tcp.csum
 * (offset 50) for a 2-byte word going from 0x0000 to 0x0101 (constants,
 * so the checksum ends up wrong on purpose).
 * Effect: writes [50, 51].
 */
#include "extframe.h"

SEC("tc")
int helper_l4_csum(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 54 > end || data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	if (data[14] != 0x45 || data[23] != IPPROTO_TCP) {
		return EXTFRAME_CONTINUE;
	}
	if (bpf_l4_csum_replace(skb, 50, bpf_htons(0x0000), bpf_htons(0x0101), 2) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
