/* SPDX-License-Identifier: GPL-2.0-only */
/* Maps of every shape extframe/mapview.py decodes, for tests/kernel/test_maps.py.
 * The program copies nothing; it only has to load. */
#include "extframe.h"

enum color { RED = 1, GREEN = 2 };

struct addrs {
	__be32 v4;
	__u8 mac[6];
	__be16 port;
	struct in6_addr v6;
	__u32 low : 4, high : 28;
	enum color color;
	__u64 counts[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct addrs);
	__uint(max_entries, 8);
} shapes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} sparse SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int
map_types(struct __sk_buff *skb)
{
	__u32 key = extframe_in_port(skb) & 7;
	__u64 *n = bpf_map_lookup_elem(&sparse, &key);

	if (n) {
		__sync_fetch_and_add(n, 1);
	}
	return bpf_map_lookup_elem(&shapes, &key) ? EXTFRAME_CONTINUE : EXTFRAME_DROP;
}
