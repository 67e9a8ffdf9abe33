/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: indexes a 16-byte map value with a byte of the packet length;
 * the verifier tracks the index's bounds back through several instructions
 * (mark_precise lines) before it refuses the access. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, unsigned char[16]);
} table SEC(".maps");

SEC("tc")
int reject_map_bounds(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u32 idx = skb->len;
	unsigned char *value;

	idx = (idx >> 2) + 3;
	idx &= 0x3f;
	idx ^= 1;
	value = bpf_map_lookup_elem(&table, &key);
	if (!value) {
		return TC_ACT_OK;
	}
	return value[idx] ? TC_ACT_SHOT : TC_ACT_OK;
}
