/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sneaky_helper_stack - bpf_skb_load_bytes() fills a stack variable that
 * held a constant; a branch on it sets skb->mark. An analysis that forgets
 * helpers write through their pointer arguments keeps the constant, prunes
 * the branch and calls the program read-only.
 * Effect: writes meta.mark.
 */
#include "extframe.h"
SEC("tc")
int sneaky_helper_stack(struct __sk_buff *skb)
{
	__u64 x = 0;
	bpf_skb_load_bytes(skb, 0, &x, 8);
	if (x > 5)
		skb->mark = 7;
	return EXTFRAME_CONTINUE;
}
char LICENSE[] SEC("license") = "GPL";
