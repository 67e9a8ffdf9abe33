/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a packet write at an offset that depends on the IPv4 header
 * length, so the verifier tracks a variable offset (var_off, umax). */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int var_offset(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	struct iphdr *ip = (void *)(data + 14);
	unsigned char *l4;

	if ((void *)(ip + 1) > (void *)end) {
		return TC_ACT_OK;
	}
	l4 = (unsigned char *)ip + ip->ihl * 4;
	if (l4 + 8 > end) {
		return TC_ACT_OK;
	}
	l4[6] = 0;	/* udp.csum, first byte */
	l4[7] = 0;
	return TC_ACT_OK;
}
