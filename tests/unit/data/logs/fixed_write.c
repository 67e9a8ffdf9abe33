/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: packet writes at fixed offsets from the Ethernet header. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int fixed_write(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 34 > end) {
		return TC_ACT_OK;
	}
	data[15] = data[22];	/* ip.tos = ip.ttl: a register store */
	data[22] = 16;		/* ip.ttl = 16 */
	return TC_ACT_OK;
}
