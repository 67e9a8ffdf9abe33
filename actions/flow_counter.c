/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * flow_counter - count packets and bytes per IP 5-tuple.
 *
 * One key layout serves IPv4 and IPv6: an IPv4 address is stored in its
 * IPv4-mapped IPv6 form ::ffff:a.b.c.d (RFC 4291 2.5.5.2), and ip_version
 * keeps an IPv6 packet that carries such an address on the wire apart from
 * real IPv4.
 *
 * Map flow_stats (BPF_MAP_TYPE_HASH, up to 65536 flows):
 *   key    struct flow_counter_key, 40 bytes:
 *            __u8   src_addr[16]  source address, network byte order
 *            __u8   dst_addr[16]  destination address, network byte order
 *            __be16 src_port      TCP/UDP source port, network byte order
 *            __be16 dst_port      TCP/UDP destination port, network order
 *            __u8   ip_proto      IPv4 protocol / IPv6 upper-layer header
 *            __u8   ip_version    4 or 6
 *            __u8   pad[2]        always 0
 *          Ports are 0 for every protocol but TCP and UDP (ICMP too) and
 *          for later fragments, which carry no L4 header.
 *   value  struct flow_counter_stats { __u64 packets; __u64 bytes; }
 *          16 bytes, host byte order; bytes counts skb->len, the whole
 *          frame from the Ethernet header on (VLAN tags included).
 * A flow's entry is created on its first packet; counters are added
 * atomically because one flow may be counted on several CPUs at once.
 * Nothing is ever deleted: the operator drains the map.  When it is full,
 * new flows are not counted.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict: always continue.  What is counted:
 *   IPv4/IPv6 TCP or UDP, header complete         counted, with ports
 *   other protocols (ICMP, ICMPv6, GRE, ...)      counted, ports 0
 *   first fragment (MF, offset 0)                 as a whole packet
 *   later IPv4/IPv6 fragment                      counted, ports 0, under
 *                                                 the protocol it announces
 *   behind one or two VLAN tags                   as untagged
 *   not IP (ARP, three VLAN tags, ...)            not counted
 *   IP header truncated or malformed (ihl < 5,    not counted
 *   wrong version)
 *   TCP or UDP header truncated, TCP doff < 5     not counted (malformed)
 *   IPv6 extension headers truncated, or more     not counted (no upper
 *   than EXTFRAME_IPV6_EXT_MAX (4) of them         layer found)
 *   flow_stats full, flow not in it               not counted
 *
 * Effects: reads the packet, writes maps only: read_only.
 */
#include "extframe.h"

/* IPv4-mapped IPv6 prefix ::ffff:0:0/96: bytes 10 and 11 are 0xff. */
#define FLOW_COUNTER_V4MAPPED_FF 10

struct flow_counter_key {
	__u8 src_addr[16];
	__u8 dst_addr[16];
	__be16 src_port;
	__be16 dst_port;
	__u8 ip_proto;
	__u8 ip_version;
	__u8 pad[2];
};

struct flow_counter_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_counter_key);
	__type(value, struct flow_counter_stats);
	__uint(max_entries, 65536);
} flow_stats SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* Stores an IPv4 address (network order) as ::ffff:a.b.c.d in 'addr'. */
static __always_inline void
store_ipv4_mapped(__u8 addr[16], __be32 ipv4)
{
	__builtin_memset(addr, 0, 16);
	addr[FLOW_COUNTER_V4MAPPED_FF] = 0xff;
	addr[FLOW_COUNTER_V4MAPPED_FF + 1] = 0xff;
	__builtin_memcpy(&addr[12], &ipv4, 4);
}

/* Returns nonzero for the IPv6 extension header types that
 * extframe_parse_ipv6() skips: finding one as the final next header means
 * the chain was truncated or longer than EXTFRAME_IPV6_EXT_MAX. */
static __always_inline int
is_skipped_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING
	       || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

/* Fills the addresses, protocol and version of 'key' from the IP header in
 * 'h'.  Returns -1 when the packet has no IP header to count it by. */
static __always_inline int
fill_l3(struct flow_counter_key *key, const struct extframe_hdrs *h)
{
	if (h->ip) {
		store_ipv4_mapped(key->src_addr, h->ip->saddr);
		store_ipv4_mapped(key->dst_addr, h->ip->daddr);
		key->ip_version = 4;
	} else if (h->ip6) {
		if (!h->frag_later && is_skipped_ipv6_ext(h->ip_proto)) {
			return -1;
		}
		__builtin_memcpy(key->src_addr, &h->ip6->saddr, 16);
		__builtin_memcpy(key->dst_addr, &h->ip6->daddr, 16);
		key->ip_version = 6;
	} else {
		return -1;
	}
	key->ip_proto = h->ip_proto;
	return 0;
}

/* Fills the ports of 'key' for TCP and UDP.  Returns -1 when a TCP or UDP
 * packet that should carry its header (not a later fragment) does not. */
static __always_inline int
fill_ports(struct flow_counter_key *key, const struct extframe_hdrs *h)
{
	if (h->frag_later) {
		return 0;
	}
	if (h->ip_proto == IPPROTO_TCP) {
		if (!h->tcp) {
			return -1;
		}
		key->src_port = h->tcp->source;
		key->dst_port = h->tcp->dest;
	} else if (h->ip_proto == IPPROTO_UDP) {
		if (!h->udp) {
			return -1;
		}
		key->src_port = h->udp->source;
		key->dst_port = h->udp->dest;
	}
	return 0;
}

/* Adds one packet of 'len' bytes to the flow's counters.  A missing entry
 * is inserted with BPF_NOEXIST already holding this packet; if another CPU
 * inserted it first, the update fails with -EEXIST and the packet is added
 * to that entry instead, so no packet is lost and none is counted twice. */
static __always_inline void
count_packet(const struct flow_counter_key *key, __u64 len)
{
	struct flow_counter_stats *stats;

	stats = bpf_map_lookup_elem(&flow_stats, key);
	if (!stats) {
		struct flow_counter_stats init = {
			.packets = 1,
			.bytes = len,
		};

		if (!bpf_map_update_elem(&flow_stats, key, &init,
					 BPF_NOEXIST)) {
			return;
		}
		stats = bpf_map_lookup_elem(&flow_stats, key);
		if (!stats) {
			return;
		}
	}
	__sync_fetch_and_add(&stats->packets, 1);
	__sync_fetch_and_add(&stats->bytes, len);
}

/* Entry point: builds the 5-tuple key of an IP packet and counts it. */
SEC("tc")
int
flow_counter(struct __sk_buff *skb)
{
	struct flow_counter_key key;
	struct extframe_hdrs h;

	if (extframe_parse_l2_l4(skb, &h) < 0) {
		return EXTFRAME_CONTINUE;
	}
	/* Every byte, padding included, is part of the hash key. */
	__builtin_memset(&key, 0, sizeof(key));
	if (fill_l3(&key, &h) < 0 || fill_ports(&key, &h) < 0) {
		return EXTFRAME_CONTINUE;
	}
	count_packet(&key, skb->len);
	return EXTFRAME_CONTINUE;
}
