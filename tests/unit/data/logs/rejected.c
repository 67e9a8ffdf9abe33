/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: rejected on its second path: the write is in bounds only on the
 * path that checked 34 bytes. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int rejected(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 14 > end) {
		return TC_ACT_OK;
	}
	if (skb->cb[1] == 7) {
		if (data + 34 > end) {
			return TC_ACT_OK;
		}
	}
	data[22] = 1;	/* ip.ttl: out of range when cb[1] != 7 */
	return TC_ACT_OK;
}
