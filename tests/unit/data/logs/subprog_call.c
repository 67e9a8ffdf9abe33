/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a static bpf-to-bpf call that receives a packet pointer and
 * writes through it (verified in the caller's context, frame1). */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

static __attribute__((noinline)) int
set_ttl(unsigned char *ip, unsigned char *end)
{
	if (ip + 20 > end) {
		return -1;
	}
	ip[8] = 1;	/* ip.ttl */
	return 0;
}

SEC("tc")
int subprog_call(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 14 > end) {
		return TC_ACT_OK;
	}
	if (set_ttl(data + 14, end) < 0) {
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}
