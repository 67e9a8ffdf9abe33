/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sneaky_rsh - a right shift by a register holding 64: the machine masks
 * the amount (shift by 0), so the value stays 0x100 and the mark is set.
 * Effect: writes meta.mark.
 */
#include "extframe.h"
SEC("tc")
int sneaky_rsh(struct __sk_buff *skb)
{
	asm volatile(
		"r4 = 0x100\n"
		"r5 = 64\n"
		"r4 >>= r5\n"
		"if r4 > 5 goto +1\n"
		"goto +2\n"
		"r5 = 7\n"
		"*(u32 *)(%[skb] + 8) = r5\n"
		:: [skb] "r"(skb) : "r4", "r5", "memory");
	return EXTFRAME_CONTINUE;
}
char LICENSE[] SEC("license") = "GPL";
