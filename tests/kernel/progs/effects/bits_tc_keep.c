/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bits_tc_keep - on an untagged IPv6 frame, set the traffic class's DSCP
 * from the argument with two byte stores that keep the version nibble and
 * the flow label bits around it (as actions/dscp_remark.c does).
 * Effect: writes bytes 14 and 15, field ipv6.tc only.
 */
#include "extframe.h"

SEC("tc")
int bits_tc_keep(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u32 dscp = extframe_arg(skb) & 0x3f;

	if (data + 54 > end || data[12] != 0x86 || data[13] != 0xdd) {
		return EXTFRAME_CONTINUE;
	}
	data[14] = (data[14] & 0xf0) | (dscp >> 2);
	data[15] = ((dscp & 0x3) << 6) | (data[15] & 0x3f);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
