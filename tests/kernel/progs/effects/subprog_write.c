/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * subprog_write - a noinline static subprogram (a real bpf-to-bpf call)
 * gets a packet pointer, checks it against data_end and writes 0x42 there;
 * the entry point passes data + 15.
 * Effect: writes [15, 15] (the second byte of the L3 header).
 */
#include "extframe.h"

static __attribute__((noinline)) int poke(unsigned char *p, void *end)
{
	if ((void *)(p + 1) > end) {
		return 0;
	}
	p[0] = 0x42;
	return 1;
}

SEC("tc")
int subprog_write(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 16 > end) {
		return EXTFRAME_CONTINUE;
	}
	return poke(data + 15, end) ? EXTFRAME_CONTINUE : EXTFRAME_DROP;
}

char LICENSE[] SEC("license") = "GPL";
