/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bits_wrong_byte - keeps "the high nibble" of the wrong byte: byte 15's
 * high nibble goes into byte 14, over the IPv6 version.
 * Effect: writes byte 14, fields ipv6.version and ipv6.tc.
 */
#include "extframe.h"

SEC("tc")
int bits_wrong_byte(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u32 x = extframe_arg(skb) & 0xf;

	if (data + 54 > end || data[12] != 0x86 || data[13] != 0xdd) {
		return EXTFRAME_CONTINUE;
	}
	data[14] = (data[15] & 0xf0) | x;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
