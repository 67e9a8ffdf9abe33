/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mark_setter - classify packets by destination address prefix into
 * skb->mark (OVS pkt_mark), for later tables to match on.
 *
 * The longest prefix in the trie of the packet's IP version that contains
 * its destination address gives the mark; without a match the mark stays
 * as it came in.  The destination is the one in the fixed IPv4 or IPv6
 * header (for IPv6 with a routing header: the next hop, not the final
 * destination), as OVS's nw_dst and ipv6_dst are.
 *
 * Map mark_v4 (BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, up to 1024
 * prefixes), filled by the operator:
 *   key    struct mark_v4_key { __u32 prefixlen; __be32 addr; }
 *          prefixlen 0..32 in host byte order, addr in network byte order
 *          (the LPM trie's layout: the length, then the data it covers)
 *   value  struct mark_value { __u32 mark; }  host byte order
 * Map mark_v6 (BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, up to 1024
 * prefixes), filled by the operator:
 *   key    struct mark_v6_key { __u32 prefixlen; __u8 addr[16]; }
 *          prefixlen 0..128 host order, addr in network byte order
 *   value  struct mark_value, as for mark_v4
 * A /0 entry is a default mark for its IP version.  A matching entry whose
 * mark is 0 sets the mark to 0.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict (always continue):
 *   IPv4, destination matches a prefix in mark_v4     mark = longest
 *                                                     match's mark
 *   IPv6, destination matches a prefix in mark_v6     mark = longest
 *                                                     match's mark
 *   IP destination matches no prefix                  mark unchanged
 *   IPv4 with options, IPv6 with extension headers,   as above (only the
 *   VLAN/QinQ tagged, any L4 or none, truncated L4,   fixed IP header is
 *   first or later fragments                          read)
 *   not IP (ARP, 3 VLAN tags, ...), IP header         mark unchanged
 *   truncated or malformed (ihl < 5, wrong version)
 * The packet bytes never change.
 *
 * Effects: writes skb->mark only: writes("meta.mark").
 */
#include "extframe.h"

struct mark_v4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct mark_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct mark_value {
	__u32 mark;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct mark_v4_key);
	__type(value, struct mark_value);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} mark_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct mark_v6_key);
	__type(value, struct mark_value);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} mark_v6 SEC(".maps");

EXTFRAME_EFFECTS(writes("meta.mark"));

char LICENSE[] SEC("license") = "GPL";

/* Returns the longest-prefix entry for the packet's destination address,
 * or NULL when there is none or the packet is not IP. */
static __always_inline struct mark_value *
lookup_destination(const struct extframe_hdrs *h)
{
	if (h->ip) {
		struct mark_v4_key key = {
			.prefixlen = 32,
			.addr = h->ip->daddr,
		};

		return bpf_map_lookup_elem(&mark_v4, &key);
	}
	if (h->ip6) {
		struct mark_v6_key key = {
			.prefixlen = 128,
		};

		__builtin_memcpy(key.addr, &h->ip6->daddr, sizeof key.addr);
		return bpf_map_lookup_elem(&mark_v6, &key);
	}
	return NULL;
}

/* Entry point: sets the mark from the longest matching destination prefix
 * and always continues. */
SEC("tc")
int
mark_setter(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	struct mark_value *value;

	if (extframe_parse_l2_l4(skb, &h) < 0) {
		return EXTFRAME_CONTINUE;
	}
	value = lookup_destination(&h);
	if (value) {
		extframe_set_mark(skb, value->mark);
	}
	return EXTFRAME_CONTINUE;
}
