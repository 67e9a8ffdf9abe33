/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * helper_store_bytes - bpf_skb_store_bytes() a constant MAC address from
 * the stack over eth.dst (no direct packet access at all).
 * Effect: writes [0, 5].
 */
#include "extframe.h"

SEC("tc")
int helper_store_bytes(struct __sk_buff *skb)
{
	unsigned char mac[6] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01 };

	if (bpf_skb_store_bytes(skb, 0, mac, sizeof(mac), 0) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
