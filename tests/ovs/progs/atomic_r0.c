// SPDX-License-Identifier: GPL-2.0
/* Atomic fetch-add, xchg and cmpxchg whose results are returned at once,
 * so that clang computes them in r0 (the operand register is r0 itself):
 * each must leave the old value in r0, which becomes the verdict.  The
 * differential test compares both executors on it; the map's value after
 * the frames must match too. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cell SEC(".maps");

SEC("tc")
int atomic_r0(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&cell, &key);

	if (!v)
		return TC_ACT_OK;
	switch (skb->cb[1] % 3) {
	case 0:
		return __sync_fetch_and_add(v, 1);
	case 1:
		return __sync_lock_test_and_set(v, skb->len % 3);
	default:
		return __sync_val_compare_and_swap(v, 2, skb->len % 4);
	}
}

char LICENSE[] SEC("license") = "GPL";
