/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_load_bytes - bpf_skb_load_bytes() the Ethernet header into a stack
 * buffer and drop frames whose destination is a multicast/broadcast MAC.
 * Effect: none (read-only): the helper writes only the stack buffer.
 */
#include "extframe.h"

SEC("tc")
int ro_load_bytes(struct __sk_buff *skb)
{
	unsigned char buf[14];

	if (bpf_skb_load_bytes(skb, 0, buf, sizeof(buf)) < 0) {
		return EXTFRAME_CONTINUE;
	}
	return (buf[0] & 1) ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
