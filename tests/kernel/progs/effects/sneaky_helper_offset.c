/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sneaky_helper_offset - a packet offset read into a stack variable by
 * bpf_skb_load_bytes(), masked to 0..63, then a direct store at that offset.
 * An analysis that keeps the variable's old value (0) reports byte 0 only.
 * Effect: writes [0, 63].
 */
#include "extframe.h"
SEC("tc")
int sneaky_helper_offset(struct __sk_buff *skb)
{
	__u64 x = 0;
	bpf_skb_load_bytes(skb, 0, &x, 1);
	__u64 off = x & 0x3f;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *p = (__u8 *)data + off;
	if ((void *)(p + 1) > end)
		return EXTFRAME_CONTINUE;
	*p = 0x55;
	return EXTFRAME_CONTINUE;
}
char LICENSE[] SEC("license") = "GPL";
