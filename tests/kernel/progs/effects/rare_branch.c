/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rare_branch - set ip.ttl to 1, but only for IPv4/TCP (ihl 5) to
 * destination port 4242 when the flow's argument is 7; otherwise nothing.
 * Effect: writes [22, 22], on that one rare path only.
 */
#include "extframe.h"

SEC("tc")
int rare_branch(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 54 > end || data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	if (data[14] != 0x45 || data[23] != IPPROTO_TCP) {
		return EXTFRAME_CONTINUE;
	}
	if (data[36] == (4242 >> 8) && data[37] == (4242 & 0xff)
	    && extframe_arg(skb) == 7) {
		data[22] = 1;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
