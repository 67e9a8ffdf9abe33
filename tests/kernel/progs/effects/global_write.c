/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * global_write - a non-static (global) function, which the kernel verifies
 * on its own, reads data/data_end from the skb itself and overwrites the
 * first byte of eth.type with 0x86; the tc entry point calls it.
 * Effect: writes [12, 12].
 */
#include "extframe.h"

__attribute__((noinline)) int rewrite(struct __sk_buff *skb)
{
	unsigned char *data;
	unsigned char *end;

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + 14 > end) {
		return 0;
	}
	data[12] = 0x86;
	return 1;
}

SEC("tc")
int global_write(struct __sk_buff *skb)
{
	rewrite(skb);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
