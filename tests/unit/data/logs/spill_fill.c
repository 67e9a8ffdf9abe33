/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a packet pointer spilled to the stack and filled back before a
 * write through it (volatile forces the spill at -O2). */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int spill_fill(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char *volatile saved;
	unsigned char *p;

	if (data + 14 > end) {
		return TC_ACT_OK;
	}
	saved = data + 12;
	p = saved;
	p[1] = 0x08;	/* eth.type, low byte, through the filled pointer */
	return TC_ACT_OK;
}
