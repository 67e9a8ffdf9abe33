/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * store_variable - on IPv4, flip every bit of the first byte after the IP
 * header, found through the IHL, so the store's offset is a variable.
 * Effect: writes one byte at 14 + ihl * 4, i.e. somewhere in [34, 74].
 */
#include "extframe.h"

SEC("tc")
int store_variable(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char *l4;
	__u32 off;

	if (data + 34 > end || data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	off = (data[14] & 0x0f) * 4;
	if (off < 20) {
		return EXTFRAME_CONTINUE;
	}
	l4 = data + 14 + off;
	if (l4 + 1 > end) {
		return EXTFRAME_CONTINUE;
	}
	*l4 ^= 0xff;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
