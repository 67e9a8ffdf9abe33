/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_spill_pointer - spill a packet pointer to a volatile stack slot,
 * fill it back and only read through it: drop when eth.dst[1] is 0xff.
 * Effect: none (read-only).
 */
#include "extframe.h"

SEC("tc")
int ro_spill_pointer(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 2 > end) {
		return EXTFRAME_CONTINUE;
	}
	unsigned char *volatile slot = data + 1;
	unsigned char *p = slot;

	return *p == 0xff ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
