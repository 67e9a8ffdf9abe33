/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_map_update_by_header - build a 5-tuple key from the IPv4 and TCP/UDP
 * headers and bpf_map_update_elem() it into a hash map with value 1.
 * Effect: none (read-only): the key lives on the stack, the update is a map
 * write.
 */
#include "extframe.h"

struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, __u64);
} flows SEC(".maps");

SEC("tc")
int ro_map_update_by_header(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	struct flow_key key = {};
	__u64 one = 1;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.ip || !h.l4) {
		return EXTFRAME_CONTINUE;
	}
	key.saddr = h.ip->saddr;
	key.daddr = h.ip->daddr;
	key.proto = h.ip_proto;
	if (h.ip_proto == IPPROTO_TCP) {
		key.sport = h.tcp->source;
		key.dport = h.tcp->dest;
	} else if (h.ip_proto == IPPROTO_UDP) {
		key.sport = h.udp->source;
		key.dport = h.udp->dest;
	}
	bpf_map_update_elem(&flows, &key, &one, BPF_ANY);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
