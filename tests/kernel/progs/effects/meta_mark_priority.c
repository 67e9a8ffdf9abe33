/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * meta_mark_priority - set skb->mark = 42 and skb->priority = 3.
 * Effect: metadata only (meta.mark, meta.priority); no packet byte.
 */
#include "extframe.h"

SEC("tc")
int meta_mark_priority(struct __sk_buff *skb)
{
	skb->mark = 42;
	skb->priority = 3;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
