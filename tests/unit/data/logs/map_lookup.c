/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a map lookup (map_value_or_null), its NULL check (map_value),
 * and a write to the map value, which is not a packet write. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tc")
int map_lookup(struct __sk_buff *skb)
{
	__u32 port = skb->cb[0];
	__u64 *n = bpf_map_lookup_elem(&counts, &port);

	if (n) {
		*n += skb->len;
	}
	return TC_ACT_OK;
}
