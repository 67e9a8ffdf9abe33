/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a global function, which the verifier checks once on its own
 * (Func#1 ... is global and assumed valid, then Validating ... func#1). */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

__attribute__((noinline)) int
mark_by_proto(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (skb == 0 || data + 34 > end) {
		return 0;
	}
	data[22] = data[22] - 1;	/* ip.ttl */
	skb->mark = data[23];
	return 1;
}

SEC("tc")
int global_func(struct __sk_buff *skb)
{
	return mark_by_proto(skb) ? TC_ACT_OK : TC_ACT_SHOT;
}
