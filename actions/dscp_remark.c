/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dscp_remark - set the DSCP of IPv4 and IPv6 packets by IP protocol and L4
 * destination port.
 *
 * The 6 DSCP bits (RFC 2474) are rewritten; the 2 ECN bits (RFC 3168) are
 * kept.  IPv4: the DSCP is the top 6 bits of ip.tos and the header checksum
 * is updated incrementally.  IPv6: the traffic class straddles bytes 0 and 1
 * of the header (4 bits each); version and flow label are kept.  IP is
 * found behind up to two VLAN tags (802.1ad, 802.1Q), IPv6 behind up to
 * EXTFRAME_IPV6_EXT_MAX (4) extension headers.
 *
 * Map dscp_policy (BPF_MAP_TYPE_HASH, up to 1024 rules), filled by the
 * operator:
 *   key    struct dscp_remark_key, 4 bytes:
 *            __u8  proto   IP protocol / IPv6 final next header (6 TCP, ...)
 *            __u8  pad     must be 0
 *            __u16 dport   L4 destination port, host byte order;
 *                          0 = any port of that protocol
 *   value  __u8 DSCP, 0..63; a larger value is invalid and leaves the
 *          packet unchanged (a typo must not set ECN bits)
 * Lookup: {proto, dport} first, then the wildcard {proto, 0}.  dport is the
 * port OVS would classify on: the TCP or UDP destination port when that
 * header is whole; 0 for every other protocol (ICMP, ...), for a later
 * fragment (its L4 header is in the first fragment) and for a truncated or
 * malformed TCP/UDP header.  Such packets therefore match only the {proto, 0}
 * rule.  A first fragment carries its L4 header and is looked up by port.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict (always continue):
 *   IPv4/IPv6, rule {proto, dport} found      DSCP set, ECN kept (IPv4:
 *                                             checksum updated)
 *   IPv4/IPv6, no such rule, {proto, 0} found DSCP set from the wildcard
 *   IPv4/IPv6, neither rule                   unchanged
 *   rule value > 63                           unchanged
 *   DSCP already the rule's                   unchanged (nothing written)
 *   later IPv4/IPv6 fragment                  {proto, 0} only
 *   ICMP, ICMPv6, other protocols             {proto, 0} only
 *   TCP/UDP header truncated or malformed     {proto, 0} only
 *   IPv4 with options                         as any IPv4 packet
 *   IPv6 with more than 4 extension headers   proto is the first header not
 *                                             skipped: {that type, 0} only
 *   not IP (ARP, 3 VLAN tags, ...)            unchanged
 *   IP header truncated or malformed          unchanged
 *
 * Writes are direct packet stores relative to the IP header (ip.tos and
 * ip.csum, or IPv6 bytes 0 and 1): no helper call, no invalidated packet
 * pointers, and the analyzer sees the field offsets.
 */
#include "extframe.h"

/* The DSCP is the top 6 bits of the IPv4 TOS / IPv6 traffic class. */
#define DSCP_MAX 63
#define DSCP_SHIFT 2
#define ECN_MASK 0x03

struct dscp_remark_key {
	__u8 proto;
	__u8 pad;
	__u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct dscp_remark_key);
	__type(value, __u8);
	__uint(max_entries, 1024);
} dscp_policy SEC(".maps");

EXTFRAME_EFFECTS(writes("ip.tos", "ip.csum", "ipv6.tc"));

char LICENSE[] SEC("license") = "GPL";

/* Returns the DSCP for (proto, dport): the exact rule, else the protocol's
 * port-0 wildcard; -1 when neither exists or the rule's value is invalid. */
static __always_inline int
lookup_dscp(__u8 proto, __u16 dport)
{
	struct dscp_remark_key key = {
		.proto = proto,
		.pad = 0,
		.dport = dport,
	};
	__u8 *dscp = NULL;

	if (dport) {
		dscp = bpf_map_lookup_elem(&dscp_policy, &key);
	}
	if (!dscp) {
		key.dport = 0;
		dscp = bpf_map_lookup_elem(&dscp_policy, &key);
	}
	if (!dscp || *dscp > DSCP_MAX) {
		return -1;
	}
	return *dscp;
}

/* Sets the DSCP of an IPv4 header, keeping ECN, and patches the checksum
 * for the 16-bit word (version/ihl, tos) that changed.  The words are built
 * from single bytes so no 16-bit access depends on the header's alignment. */
static __always_inline void
remark_ipv4(struct iphdr *iph, __u8 dscp)
{
	__u8 *hdr = (__u8 *)iph;
	__u8 old_tos = hdr[1];
	__u8 new_tos = (dscp << DSCP_SHIFT) | (old_tos & ECN_MASK);

	if (new_tos == old_tos) {
		return;
	}
	hdr[1] = new_tos;
	iph->check = extframe_csum16_replace(iph->check,
					     bpf_htons(((__u16)hdr[0] << 8)
						       | old_tos),
					     bpf_htons(((__u16)hdr[0] << 8)
						       | new_tos));
}

/* Sets the DSCP of an IPv6 header, keeping ECN.  The traffic class is the
 * low nibble of byte 0 (its top 4 bits: DSCP bits 5..2) and the high
 * nibble of byte 1 (DSCP bits 1..0, then ECN); the version nibble and the
 * flow label bits around it stay.  No checksum covers the IPv6 header. */
static __always_inline void
remark_ipv6(struct ipv6hdr *ip6, __u8 dscp)
{
	__u8 *hdr = (__u8 *)ip6;
	__u8 b0 = (hdr[0] & 0xf0) | (dscp >> 2);
	__u8 b1 = ((dscp & 0x3) << 6) | (hdr[1] & 0x3f);

	if (b0 != hdr[0]) {
		hdr[0] = b0;
	}
	if (b1 != hdr[1]) {
		hdr[1] = b1;
	}
}

/* Entry point: finds the IP header and the port OVS would classify on,
 * looks up the policy and remarks the packet. */
SEC("tc")
int
dscp_remark(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	__u16 dport = 0;
	int dscp;

	if (extframe_parse_l2_l4(skb, &h) < 0 || (!h.ip && !h.ip6)) {
		return EXTFRAME_CONTINUE;
	}
	if (h.l4 && h.ip_proto == IPPROTO_TCP) {
		dport = bpf_ntohs(h.tcp->dest);
	} else if (h.l4 && h.ip_proto == IPPROTO_UDP) {
		dport = bpf_ntohs(h.udp->dest);
	}

	dscp = lookup_dscp(h.ip_proto, dport);
	if (dscp < 0) {
		return EXTFRAME_CONTINUE;
	}
	if (h.ip) {
		remark_ipv4(h.ip, dscp);
	} else if (h.ip6) {
		remark_ipv6(h.ip6, dscp);
	}
	return EXTFRAME_CONTINUE;
}
