/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_map_value - store the packet's IPv4 TTL into an array map value and
 * count packets there: map value stores derived from packet bytes.
 * Effect: none (read-only): map writes are not packet effects.
 */
#include "extframe.h"

struct ttl_stats {
	__u8 last_ttl;
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ttl_stats);
} ttl_stats SEC(".maps");

SEC("tc")
int ro_map_value(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u32 key = 0;
	struct ttl_stats *st;

	if (data + 34 > end || data[12] != 0x08 || data[13] != 0x00) {
		return EXTFRAME_CONTINUE;
	}
	st = bpf_map_lookup_elem(&ttl_stats, &key);
	if (!st) {
		return EXTFRAME_CONTINUE;
	}
	st->last_ttl = data[22];
	__sync_fetch_and_add(&st->packets, 1);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
