/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * change_tail - bpf_skb_change_tail() to skb->len + 4: the frame grows by
 * four bytes at its end.
 * Effect: a length change (new bytes past the old end).
 */
#include "extframe.h"

SEC("tc")
int change_tail(struct __sk_buff *skb)
{
	if (bpf_skb_change_tail(skb, skb->len + 4, 0) < 0) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
