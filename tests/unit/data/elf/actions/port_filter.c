/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * port_filter - drop TCP and UDP packets sent to blocked destination ports.
 *
 * Map blocked_ports (BPF_MAP_TYPE_HASH, up to 1024 ports), filled by the
 * operator (bpftool map update, extframe maps):
 *   key    __u16 destination port, host byte order
 *   value  __u8, non-zero = blocked (0 keeps the entry but lets traffic by)
 * Map drops (BPF_MAP_TYPE_HASH, up to 1024 ports), filled by the action:
 *   key    __u16 destination port, host byte order
 *   value  __u64 packets dropped for that port, added atomically
 * The same port blocks TCP and UDP alike, over IPv4 and IPv6.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict:
 *   TCP or UDP to a port with a non-zero value       drop, drops[port] += 1
 *   TCP or UDP to any other port                      continue
 *   first fragment (its L4 header is present)         as a whole packet
 *   later IPv4/IPv6 fragment (no L4 header)           continue
 *   ICMP, other protocols, not IP                     continue
 *   L4 header truncated or malformed (TCP doff < 5)   continue
 *   (they carry no ports, as for the OVS classifier)
 *   IPv6 with more than EXTFRAME_IPV6_EXT_MAX (4)     continue
 *   extension headers before L4 (not found)
 * A blocked packet is dropped even when its counter cannot be created
 * (drops full).
 *
 * Effects: reads the packet, writes maps only: read_only.
 */
#include "extframe.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u8);
	__uint(max_entries, 1024);
} blocked_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u64);
	__uint(max_entries, 1024);
} drops SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* Counts one drop for 'port'.  A missing counter is inserted with
 * BPF_NOEXIST already at 1; losing that race to another CPU (-EEXIST) falls
 * back to adding to the winner's entry. */
static __always_inline void
count_drop(__u16 port)
{
	__u64 one = 1;
	__u64 *count;

	count = bpf_map_lookup_elem(&drops, &port);
	if (!count) {
		if (!bpf_map_update_elem(&drops, &port, &one, BPF_NOEXIST)) {
			return;
		}
		count = bpf_map_lookup_elem(&drops, &port);
		if (!count) {
			return;
		}
	}
	__sync_fetch_and_add(count, 1);
}

/* Entry point: looks up the TCP or UDP destination port, when the packet
 * has one, in blocked_ports. */
SEC("tc")
int
port_filter(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	__u8 *blocked;
	__u16 port;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4) {
		return EXTFRAME_CONTINUE;
	}
	if (h.ip_proto == IPPROTO_TCP) {
		port = bpf_ntohs(h.tcp->dest);
	} else if (h.ip_proto == IPPROTO_UDP) {
		port = bpf_ntohs(h.udp->dest);
	} else {
		return EXTFRAME_CONTINUE;
	}

	blocked = bpf_map_lookup_elem(&blocked_ports, &port);
	if (!blocked || !*blocked) {
		return EXTFRAME_CONTINUE;
	}
	count_drop(port);
	return EXTFRAME_DROP;
}
