/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tail_call - jumps to whatever program slot 0 of its program array holds.
 * What that program does cannot be known when this one is analysed, so the
 * verdict is unknown: OVS may only run it as re-classifying everything.
 */
#include "extframe.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jump SEC(".maps");

SEC("tc")
int tail_call(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump, 0);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
