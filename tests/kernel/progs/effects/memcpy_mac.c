/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * memcpy_mac - swap eth.dst and eth.src with __builtin_memcpy through a
 * 6-byte stack temporary.
 * Effect: writes [0, 11] (both MAC addresses).
 */
#include "extframe.h"

SEC("tc")
int memcpy_mac(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char tmp[6];

	if (data + 14 > end) {
		return EXTFRAME_CONTINUE;
	}
	__builtin_memcpy(tmp, data, 6);
	__builtin_memcpy(data, data + 6, 6);
	__builtin_memcpy(data + 6, tmp, 6);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
