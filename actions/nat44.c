/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nat44 - stateless IPv4 source NAT: rewrite the source address of IPv4
 * packets whose source is in a table, and fix every checksum that covers it.
 *
 * Map nat44_rules (BPF_MAP_TYPE_HASH, up to 1024 rules), filled by the
 * operator (bpftool map update, extframe maps):
 *   key    __be32 original IPv4 source address, network byte order
 *   value  struct nat44_rule { __be32 new_src; }, 4 bytes: the address that
 *          replaces it, network byte order
 * No state: every packet is translated on its own, in one direction only
 * (the reverse direction, a destination NAT, is another action).
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict (IPv4 behind up to two VLAN tags, any ihl from 5 to 15):
 *   source in nat44_rules, TCP          ip.src rewritten, IP checksum and
 *                                        TCP checksum updated, continue
 *   source in nat44_rules, UDP          same; a UDP checksum of 0 ("none"
 *                                        in IPv4) stays 0, and an updated
 *                                        one that comes out 0 is sent as
 *                                        0xffff (RFC 768)
 *   source in nat44_rules, ICMP or      ip.src and IP checksum only (the
 *   another protocol                     ICMP checksum has no pseudo-header;
 *                                        see "Limits" for the others)
 *   first fragment (MF, offset 0)       as a whole packet: its L4 checksum
 *                                        covers the whole datagram, and an
 *                                        incremental update stays exact
 *   later fragment (offset > 0)         ip.src and IP checksum only: the
 *                                        bytes after the IP header are data
 *   TCP or UDP header truncated         ip.src and IP checksum only, as
 *   (TCP: doff * 4 bytes not all there)  OVS's own set_field does
 *   source not in nat44_rules           continue, unchanged
 *   IPv6, ARP, not IP, 3 VLAN tags      continue, unchanged
 *   IP header truncated or malformed    continue, unchanged
 *   (ihl < 5, wrong version)
 *   a helper fails (not seen on the     error (OVS drops the packet): the
 *   linear frames OVS hands over)        packet may be half rewritten
 *
 * Checksums: bpf_l3_csum_replace() and bpf_l4_csum_replace() with
 * BPF_F_PSEUDO_HDR (the TCP and UDP checksums cover the source address
 * through the pseudo-header) rather than direct writes: the checksum offsets
 * depend on ihl and on the VLAN tags, and the helpers do the RFC 1624 update
 * and the UDP zero rule (BPF_F_MARK_MANGLED_0) in the kernel.  They and
 * bpf_skb_store_bytes() invalidate packet pointers, so everything they need
 * (offsets, the old address) is read before the first call.
 *
 * Limits: the headers quoted inside ICMP errors are not translated;
 * checksums of other protocols that cover the pseudo-header (DCCP,
 * UDP-Lite) are not updated.
 */
#include "extframe.h"

struct nat44_rule {
	__be32 new_src;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct nat44_rule);
	__uint(max_entries, 1024);
} nat44_rules SEC(".maps");

EXTFRAME_EFFECTS(writes("ip.src", "ip.csum", "tcp.csum", "udp.csum"));

char LICENSE[] SEC("license") = "GPL";

/* The IP header of a frame that extframe_parse_l2_l4() accepted starts
 * after the Ethernet header and at most EXTFRAME_VLAN_MAX tags. */
#define NAT44_IP_OFF_MAX \
	(ETH_HLEN + EXTFRAME_VLAN_MAX * sizeof(struct extframe_vlan_hdr))

/* Which L4 checksum covers the source address through the pseudo-header. */
enum nat44_l4 {
	NAT44_L4_NONE,	/* another protocol, a later fragment or a truncated
			 * L4 header (h->l4 is NULL for the last two) */
	NAT44_L4_TCP,
	NAT44_L4_UDP,
};

static __always_inline enum nat44_l4
nat44_l4_kind(const struct extframe_hdrs *h)
{
	if (!h->l4) {
		return NAT44_L4_NONE;
	}
	if (h->ip_proto == IPPROTO_TCP) {
		return NAT44_L4_TCP;
	}
	if (h->ip_proto == IPPROTO_UDP) {
		return NAT44_L4_UDP;
	}
	return NAT44_L4_NONE;
}

/* Entry point: looks up the IPv4 source address, then writes the new one
 * and updates the IP checksum and, when the packet has one, the TCP or UDP
 * checksum. */
SEC("tc")
int
nat44(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct nat44_rule *rule;
	struct extframe_hdrs h;
	__be32 old_src, new_src;
	__u32 ip_off, l4_off;
	enum nat44_l4 l4;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.ip) {
		return EXTFRAME_CONTINUE;
	}
	old_src = h.ip->saddr;
	rule = bpf_map_lookup_elem(&nat44_rules, &old_src);
	if (!rule) {
		return EXTFRAME_CONTINUE;
	}
	new_src = rule->new_src;
	/* A difference of packet pointers is an unbounded scalar to the
	 * verifier; the bound, which always holds, tells it (and any tool
	 * that reads its log) which bytes the helpers below may write. */
	ip_off = (void *)h.ip - data;
	if (ip_off > NAT44_IP_OFF_MAX) {
		return EXTFRAME_ERROR;
	}
	l4_off = ip_off + h.ip->ihl * 4;
	l4 = nat44_l4_kind(&h);

	/* From here on no packet pointer is valid. */
	if (bpf_skb_store_bytes(skb, ip_off + offsetof(struct iphdr, saddr),
				&new_src, sizeof(new_src), 0)) {
		return EXTFRAME_ERROR;
	}
	if (bpf_l3_csum_replace(skb, ip_off + offsetof(struct iphdr, check),
				old_src, new_src, sizeof(new_src))) {
		return EXTFRAME_ERROR;
	}
	/* One call per protocol, each with its own constant offset, rather
	 * than one call with an offset that is 0 for "none": the write set
	 * then names tcp.csum and udp.csum, not every byte up to them. */
	if (l4 == NAT44_L4_TCP) {
		if (bpf_l4_csum_replace(skb,
					l4_off + offsetof(struct tcphdr, check),
					old_src, new_src,
					BPF_F_PSEUDO_HDR | sizeof(new_src))) {
			return EXTFRAME_ERROR;
		}
	} else if (l4 == NAT44_L4_UDP) {
		if (bpf_l4_csum_replace(skb,
					l4_off + offsetof(struct udphdr, check),
					old_src, new_src,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0
					| sizeof(new_src))) {
			return EXTFRAME_ERROR;
		}
	}
	return EXTFRAME_CONTINUE;
}
