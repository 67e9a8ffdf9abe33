/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bits_version_clobber - like bits_tc_keep, but the value or-ed in has 5
 * bits: the lowest version bit is set, and IPv6 becomes "version 7".
 * Effect: writes byte 14, fields ipv6.version and ipv6.tc.
 */
#include "extframe.h"

SEC("tc")
int bits_version_clobber(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u32 x = (extframe_arg(skb) | 0x10) & 0x1f;

	if (data + 54 > end || data[12] != 0x86 || data[13] != 0xdd) {
		return EXTFRAME_CONTINUE;
	}
	data[14] = (data[14] & 0xe0) | x;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
