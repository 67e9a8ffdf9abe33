/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: both arms of a branch reach the same write, so the verifier
 * explores the write twice, once per path ("from X to Y:"). */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int branch_twice(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char *p = data;

	if (data + 64 > end) {
		return TC_ACT_OK;
	}
	if (data[12] == 0x81) {
		p = data + 4;	/* skip one VLAN tag */
	}
	p[14 + 1] = 0;		/* ip.tos */
	skb->mark = p[14 + 8];
	return TC_ACT_OK;
}
