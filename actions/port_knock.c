/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * port_knock - open SSH (TCP port 22) to an IPv4 source only after it has
 * knocked on a secret sequence of UDP ports, in order: the port knocking
 * example of OpenState (Bianchi et al., "OpenState: programming
 * platform-independent stateful OpenFlow applications inside the switch",
 * 2014), with the per-source state machine in a map.
 *
 * Map knock_ports (BPF_MAP_TYPE_ARRAY, 4 slots), filled by the operator:
 *   key    __u32 slot 0..3
 *   value  __u16 UDP destination port, host byte order; 0 ends the
 *          sequence (slots after the first 0 are ignored)
 *   Unconfigured (slot 0 is 0) there is no sequence: nothing can knock, so
 *   SSH stays closed to every source that is not already open (fail
 *   closed; a built-in default sequence would be a published secret).
 * Map knock_state (BPF_MAP_TYPE_LRU_HASH, up to 4096 sources), kept by the
 *   action:
 *   key    __be32 IPv4 source address, network byte order
 *   value  __u32 state: 1..3 knocks matched so far, KNOCK_STATE_OPEN (255)
 *          once the whole sequence was knocked; absent = no knock yet
 *   Open is sticky: the operator closes a source by deleting its entry.
 *   LRU: when 4096 sources are knocking, the least recently seen entry
 *   (possibly an open source) makes room for a new one.  Two CPUs updating
 *   the same source at once may lose one transition; a knocking client
 *   sends its knocks one after the other, so this is accepted.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Knock ports are the non-zero ports of the sequence.  A UDP packet to one
 * of them is a knock and is always dropped (the knock ports are no service
 * and stay silent); other UDP passes.
 *
 * Verdict (IPv4 unless said; "first fragment" and VLAN/QinQ tagged frames
 * are treated as the whole, untagged packet):
 *   UDP to the next port of the source's sequence   drop, state + 1
 *     (the last one)                                drop, state OPEN
 *   UDP to the first port, out of order             drop, state 1 (a
 *                                                   retry starts over)
 *   UDP to another knock port, out of order         drop, state deleted
 *   UDP to a non-knock port, source knocking        continue, state
 *                                                   deleted (reset)
 *   UDP to a non-knock port, no state               continue
 *   UDP, source open                                knock port: drop,
 *                                                   else continue; stays
 *                                                   open
 *   UDP header truncated (< 8 bytes)                continue, no change
 *   TCP to port 22, source open                     continue
 *   TCP to port 22, source not open                 drop
 *   TCP to another port                             continue
 *   TCP header truncated or doff < 5 but the        judged by that port,
 *     4 port bytes present                          as above
 *   TCP, fewer than 4 bytes after the IP header     drop (the port could
 *     (not a later fragment)                        be 22: a tiny first
 *                                                   fragment, RFC 1858)
 *   later IPv4/IPv6 fragment                        continue (no L4
 *                                                   header; the first
 *                                                   fragment decided)
 *   IPv6 TCP to port 22                             drop (knocking is
 *                                                   IPv4 only: no IPv6
 *                                                   source can open)
 *   IPv6, any other TCP, UDP (no state), ICMPv6     continue
 *   IPv6 whose extension headers the parser cannot  drop (TCP to 22 may
 *     walk to the end (more than 4, or truncated)   hide behind them)
 *   ICMP, other IP protocols                        continue
 *   not IP (ARP, 3 VLAN tags, ...), truncated or    continue
 *     malformed IP header
 *
 * Effects: reads the packet, writes maps only: read_only.
 */
#include "extframe.h"

/* Sequence slots in knock_ports. */
#define KNOCK_SLOTS 4
/* knock_state value of a source that completed the sequence. */
#define KNOCK_STATE_OPEN 255
/* The TCP port that knocking opens. */
#define KNOCK_SSH_PORT 22

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u16);
	__uint(max_entries, KNOCK_SLOTS);
} knock_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, 4096);
} knock_state SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* The configured sequence: port[0..len) non-zero, the rest 0. */
struct knock_seq {
	__u16 port[KNOCK_SLOTS];
	__u32 len;
};

/* Reads knock_ports into *seq, up to the first 0 slot. */
static __always_inline void
load_sequence(struct knock_seq *seq)
{
	int i;

	seq->len = 0;
#pragma unroll
	for (i = 0; i < KNOCK_SLOTS; i++) {
		__u32 slot = i;
		__u16 *port = bpf_map_lookup_elem(&knock_ports, &slot);

		seq->port[i] = 0;
		if (port && *port && seq->len == i) {
			seq->port[i] = *port;
			seq->len = i + 1;
		}
	}
}

/* Returns the destination port (host order) of the TCP or UDP header at
 * the start of the L4 bytes, or -1 when its 4 port bytes are not in the
 * frame.  It reads the raw bytes rather than h->tcp so that a TCP header
 * too short or malformed for extframe_parse_tcp() is still judged by its
 * port. */
static __always_inline int
l4_dport(const struct extframe_hdrs *h)
{
	const __u8 *p = h->cur.pos;

	if (h->l4) {
		p = h->l4;
	}
	if ((void *)(p + 4) > h->cur.end) {
		return -1;
	}
	return ((int)p[2] << 8) | p[3];
}

/* Moves the knock state machine of 'src' on a UDP packet to 'port' and
 * returns the verdict: drop for a knock port, continue otherwise. */
static __always_inline int
knock(__be32 src, __u16 port)
{
	struct knock_seq seq;
	__u32 *state;
	__u32 step, next;
	__u16 expected = 0;
	int is_knock = 0;
	int i;

	load_sequence(&seq);
	state = bpf_map_lookup_elem(&knock_state, &src);
	step = state ? *state : 0;

#pragma unroll
	for (i = 0; i < KNOCK_SLOTS; i++) {
		if (seq.port[i] && seq.port[i] == port) {
			is_knock = 1;
		}
		if (step == i) {
			expected = seq.port[i];
		}
	}
	if (step == KNOCK_STATE_OPEN) {
		return is_knock ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
	}

	if (expected && port == expected) {
		next = step + 1;
	} else if (seq.len && port == seq.port[0]) {
		next = 1;
	} else {
		next = 0;
	}
	if (next && next == seq.len) {
		next = KNOCK_STATE_OPEN;
	}

	if (!next) {
		if (state) {
			bpf_map_delete_elem(&knock_state, &src);
		}
	} else if (next != step) {
		bpf_map_update_elem(&knock_state, &src, &next, BPF_ANY);
	}
	return is_knock ? EXTFRAME_DROP : EXTFRAME_CONTINUE;
}

/* Returns the verdict for a TCP packet to 'port' from IPv4 source 'src':
 * port 22 passes only for an open source. */
static __always_inline int
guard_ssh(__be32 src, __u16 port)
{
	__u32 *state;

	if (port != KNOCK_SSH_PORT) {
		return EXTFRAME_CONTINUE;
	}
	state = bpf_map_lookup_elem(&knock_state, &src);
	if (state && *state == KNOCK_STATE_OPEN) {
		return EXTFRAME_CONTINUE;
	}
	return EXTFRAME_DROP;
}

/* Returns nonzero when an IPv6 next header value is an extension header
 * that extframe_parse_ipv6() skips: it stopped on one, so the chain was
 * longer than it walks or truncated. */
static __always_inline int
ipv6_ext_unwalked(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING
	       || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

/* Entry point: knocks on UDP, guards TCP port 22, passes the rest. */
SEC("tc")
int
port_knock(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	int port;

	if (extframe_parse_l2_l4(skb, &h) < 0 || (!h.ip && !h.ip6)) {
		return EXTFRAME_CONTINUE;
	}
	if (h.frag_later) {
		return EXTFRAME_CONTINUE;
	}
	if (h.ip6 && ipv6_ext_unwalked(h.ip_proto)) {
		return EXTFRAME_DROP;
	}

	if (h.ip_proto == IPPROTO_TCP) {
		port = l4_dport(&h);
		if (port < 0) {
			return EXTFRAME_DROP;
		}
		if (h.ip) {
			return guard_ssh(h.ip->saddr, port);
		}
		return port == KNOCK_SSH_PORT ? EXTFRAME_DROP
					      : EXTFRAME_CONTINUE;
	}
	if (h.ip_proto == IPPROTO_UDP && h.ip && h.udp) {
		return knock(h.ip->saddr, bpf_ntohs(h.udp->dest));
	}
	return EXTFRAME_CONTINUE;
}
