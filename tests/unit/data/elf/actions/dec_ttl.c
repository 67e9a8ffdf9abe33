/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dec_ttl - decrement the IPv4 TTL or the IPv6 hop limit, as a router does.
 *
 * IPv4 is found behind up to two VLAN tags (802.1ad, 802.1Q); its header
 * checksum is updated incrementally.  IPv6 has no header checksum.  A packet
 * whose TTL would reach 0 is dropped; this action does not send ICMP time
 * exceeded (OVS's own dec_ttl sends it to the controller instead).
 *
 * Maps: none.  Argument: none (cb[1] is ignored).
 *
 * Verdict:
 *   IPv4, TTL >= 2                       TTL - 1, checksum updated, continue
 *   IPv4, TTL 0 or 1                     drop (packet unchanged)
 *   IPv6, hop limit >= 2                 hop limit - 1, continue
 *   IPv6, hop limit 0 or 1               drop (packet unchanged)
 *   IPv4 fragments (first or later)      as any IPv4 packet
 *   not IP (ARP, 3 VLAN tags, ...)       continue, unchanged
 *   IP header truncated or malformed     continue, unchanged
 *   (ihl < 5, wrong version)
 *
 * Checksum: direct packet writes with an RFC 1624 incremental update
 * (extframe_csum16_replace()) rather than bpf_l3_csum_replace().  The two
 * stores land at fixed offsets from the IP header, so the analyzer maps
 * them to ip.ttl and ip.csum straight from the verifier's packet pointer
 * offsets; the helper would take the offset as an argument, invalidate all
 * packet pointers and cost a helper call per packet.
 */
#include "extframe.h"

EXTFRAME_EFFECTS(writes("ip.ttl", "ip.csum", "ipv6.hop_limit"));

char LICENSE[] SEC("license") = "GPL";

/* Decrements the TTL of a parsed IPv4 header and patches its checksum for
 * the 16-bit word (TTL, protocol) that changed; drops instead when the TTL
 * would reach 0.  The words are built from single bytes so that no 16-bit
 * access depends on the alignment of the IP header. */
static __always_inline int
dec_ipv4_ttl(struct iphdr *iph)
{
	__be16 old_word, new_word;
	__u8 ttl = iph->ttl;

	if (ttl <= 1) {
		return EXTFRAME_DROP;
	}
	old_word = bpf_htons(((__u16)ttl << 8) | iph->protocol);
	new_word = bpf_htons(((__u16)(ttl - 1) << 8) | iph->protocol);
	iph->ttl = ttl - 1;
	iph->check = extframe_csum16_replace(iph->check, old_word, new_word);
	return EXTFRAME_CONTINUE;
}

/* Decrements the hop limit of a parsed IPv6 header, or drops the packet
 * when it would reach 0.  Extension headers play no part. */
static __always_inline int
dec_ipv6_hop_limit(struct ipv6hdr *ip6)
{
	if (ip6->hop_limit <= 1) {
		return EXTFRAME_DROP;
	}
	ip6->hop_limit--;
	return EXTFRAME_CONTINUE;
}

/* Entry point: finds the IP header, then decrements it; everything that is
 * not a well-formed IP header passes untouched. */
SEC("tc")
int
dec_ttl(struct __sk_buff *skb)
{
	struct extframe_hdrs h;

	if (extframe_parse_l2_l4(skb, &h) < 0) {
		return EXTFRAME_CONTINUE;
	}
	if (h.ip) {
		return dec_ipv4_ttl(h.ip);
	}
	if (h.ip6) {
		return dec_ipv6_hop_limit(h.ip6);
	}
	return EXTFRAME_CONTINUE;
}
