/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sneaky_uninit_stack - root may read uninitialised stack: probe() reads
 * fp-8 on a path that did not write it, and gets what fill(), called before
 * in the same stack area, left there (100); then sets skb->mark.
 * Effect: writes meta.mark.
 */
#include "extframe.h"
static __attribute__((noinline)) int fill(void)
{
	asm volatile("r4 = 100\n*(u64 *)(r10 - 8) = r4\n" ::: "r4", "memory");
	return 0;
}
static __attribute__((noinline)) int probe(struct __sk_buff *skb, __u32 c)
{
	asm volatile(
		"if %[c] != 0 goto +2\n"
		"r4 = 0\n"
		"*(u64 *)(r10 - 8) = r4\n"
		"r4 = *(u64 *)(r10 - 8)\n"
		"if r4 <= 5 goto +2\n"
		"r5 = 7\n"
		"*(u32 *)(%[skb] + 8) = r5\n"
		:: [c] "r"(c), [skb] "r"(skb) : "r4", "r5", "memory");
	return 0;
}
SEC("tc")
int sneaky_uninit_stack(struct __sk_buff *skb)
{
	fill();
	probe(skb, skb->len);
	return EXTFRAME_CONTINUE;
}
char LICENSE[] SEC("license") = "GPL";
