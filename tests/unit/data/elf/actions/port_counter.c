/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * port_counter - count packets and bytes per OVS input port.
 *
 * Map port_stats (BPF_MAP_TYPE_HASH, up to 1024 ports):
 *   key    __u32 OVS input port (extframe_in_port(), cb[0])
 *   value  struct port_counter_stats { __u64 packets; __u64 bytes; }
 *          16 bytes, host byte order; bytes counts skb->len, that is the
 *          whole frame from the Ethernet header on.
 * A port's entry is created on its first packet; counters are added
 * atomically because the same port may be counted on several CPUs at once.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict:
 *   any packet, whatever its headers or length     continue
 *   (the map is full: the packet is not counted)   continue
 *
 * Effects: reads metadata only, writes no packet byte: read_only.
 */
#include "extframe.h"

struct port_counter_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct port_counter_stats);
	__uint(max_entries, 1024);
} port_stats SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* Adds the packet to its input port's counters.  A missing entry is inserted
 * with BPF_NOEXIST already holding this packet; if another CPU inserted it
 * first, the update fails with -EEXIST and the packet is added to that
 * entry instead, so no packet is lost and none is counted twice. */
SEC("tc")
int
port_counter(struct __sk_buff *skb)
{
	__u32 port = extframe_in_port(skb);
	__u64 len = skb->len;
	struct port_counter_stats *stats;

	stats = bpf_map_lookup_elem(&port_stats, &port);
	if (!stats) {
		struct port_counter_stats init = {
			.packets = 1,
			.bytes = len,
		};

		if (!bpf_map_update_elem(&port_stats, &port, &init,
					 BPF_NOEXIST)) {
			return EXTFRAME_CONTINUE;
		}
		stats = bpf_map_lookup_elem(&port_stats, &port);
		if (!stats) {
			return EXTFRAME_CONTINUE;
		}
	}
	__sync_fetch_and_add(&stats->packets, 1);
	__sync_fetch_and_add(&stats->bytes, len);
	return EXTFRAME_CONTINUE;
}
