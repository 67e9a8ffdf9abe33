/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_subprog_reads - one noinline subprogram gets a packet pointer and only
 * reads a byte through it; another gets a stack buffer and writes into it.
 * Effect: none (read-only): the only stores through a pointer argument go
 * to the caller's stack.
 */
#include "extframe.h"

static __attribute__((noinline)) int peek(unsigned char *p, void *end)
{
	if ((void *)(p + 1) > end) {
		return 0;
	}
	return p[0];
}

static __attribute__((noinline)) int fill(unsigned char *buf, int v)
{
	buf[0] = v;
	buf[1] = v + 1;
	buf[2] = v + 2;
	buf[3] = v + 3;
	return buf[0] + buf[3];
}

SEC("tc")
int ro_subprog_reads(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	unsigned char buf[4] = {};
	int v;

	if (data + 14 > end) {
		return EXTFRAME_CONTINUE;
	}
	v = peek(data + 13, end);
	return fill(buf, v) == 7 ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
