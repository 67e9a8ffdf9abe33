/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * meta_cb - set skb->cb[2] = 9, metadata that OVS neither passes in nor
 * carries back.
 * Effect: none visible to the classifier: no packet byte, no mark/priority.
 */
#include "extframe.h"

SEC("tc")
int meta_cb(struct __sk_buff *skb)
{
	skb->cb[2] = 9;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
