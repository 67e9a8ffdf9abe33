/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * stale_position - finds the TCP checksum at 14 + 4·ihl + 16 of an untagged
 * IPv4 frame, then sets the IHL to 15 and writes where the checksum was.
 * After the IHL write that position is inside the (new) IP options unless
 * the IHL was 15 already: a position computed from a byte is stale once
 * that byte is written.
 * Effect: writes byte 14 and 2 bytes in [50, 91]: ip.options among the names.
 */
#include "extframe.h"

SEC("tc")
int stale_position(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char *csum;
	__u32 ihl;

	if (data + 34 > end || data[12] != 0x08 || data[13] != 0x00
	    || data[23] != 6) {
		return EXTFRAME_CONTINUE;
	}
	ihl = data[14] & 0xf;
	if (ihl < 5) {
		return EXTFRAME_CONTINUE;
	}
	csum = data + 14 + ihl * 4 + 16;
	if (csum + 2 > end) {
		return EXTFRAME_CONTINUE;
	}
	data[14] = 0x4f;
	csum[0] = 0;
	csum[1] = 0;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
