/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * spill_fill - store a packet pointer in a volatile stack slot (a spill),
 * load it back (a fill) and write 0xaa through the reloaded pointer.
 * Effect: writes [1, 1] (the second byte of eth.dst).
 */
#include "extframe.h"

SEC("tc")
int spill_fill(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 2 > end) {
		return EXTFRAME_CONTINUE;
	}
	unsigned char *volatile slot = data + 1;
	unsigned char *p = slot;

	*p = 0xaa;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
