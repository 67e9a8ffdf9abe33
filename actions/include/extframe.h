/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * extframe.h - the ABI between an extframe action and Open vSwitch.
 *
 * An action is one C file, compiled with "clang -O2 -g -target bpf", that
 * holds exactly one program in SEC("tc") (BPF_PROG_TYPE_SCHED_CLS) and a GPL
 * compatible license.  A flow runs it with actions=bpf(NAME) or
 * actions=bpf(NAME,arg=N).  The userspace datapath hands the packet to the
 * kernel (BPF_PROG_TEST_RUN) and writes the bytes and the metadata that come
 * back into the packet, so an action sees and edits a real sk_buff.
 *
 * Packet
 *   skb->data points at the Ethernet header; skb->len is the frame length.
 *   The whole frame is linear: [skb->data, skb->data_end) is all of it.
 *   Use the parsers below: each one checks bounds so that the verifier
 *   accepts the access.  Helpers that change packet data (bpf_skb_store_bytes,
 *   bpf_l3_csum_replace, bpf_l4_csum_replace, bpf_skb_vlan_push, ...)
 *   invalidate every packet pointer: parse again after calling one.
 *
 * Verdict (the program's return value)
 *   EXTFRAME_CONTINUE (TC_ACT_OK)    OVS goes on with the next action.
 *   EXTFRAME_DROP     (TC_ACT_SHOT)  OVS drops the packet and counts a drop.
 *   EXTFRAME_ERROR    (TC_ACT_UNSPEC) or anything else: an error; OVS drops
 *                                    the packet and counts an error for
 *                                    the action.
 *
 * Metadata (struct __sk_buff field <-> OVS)
 *   cb[0]     in    the OVS input port (odp port number)  extframe_in_port()
 *   cb[1]     in    N from bpf(NAME,arg=N), else 0        extframe_arg()
 *   mark      in/out  pkt_mark                  extframe_[set_]mark()
 *   priority  in/out  skb_priority              extframe_[set_]priority()
 *   Other fields are not carried back to OVS; writes to cb[] are ignored.
 *
 * Declared effects
 *   Each action says once, with EXTFRAME_EFFECTS(...), what it may change.
 *   The analyzer proves the program's real effects from its bytecode and the
 *   verifier log; "extframe check" fails when they exceed the declaration
 *   (and warns when the declaration claims more), and OVS
 *   re-classifies a packet after an action only when its proven effects touch
 *   the flow key.  The grammar is documented at EXTFRAME_EFFECTS below.
 *
 * State
 *   Keep state in BTF-defined maps (SEC(".maps")); they are ordinary kernel
 *   maps, visible to bpftool, and map writes are not packet effects.
 *
 * Helpers that make no sense inside OVS (bpf_redirect, bpf_clone_redirect,
 * ...) are refused when the action is registered.
 */
#ifndef EXTFRAME_H
#define EXTFRAME_H 1

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
/*
 * <linux/icmp.h> includes <linux/if.h>, which includes glibc's
 * <sys/socket.h>; under -target bpf glibc takes the 32-bit path and wants
 * gnu/stubs-32.h, which exists only with libc6-dev-i386.  icmp.h needs
 * nothing from if.h but IFNAMSIZ, so take if.h's include guard and define
 * that one constant: the same build works on every machine.
 */
#ifndef _LINUX_IF_H
#define _LINUX_IF_H
#define IFNAMSIZ 16
#endif
#include <linux/icmp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Verdicts.  See the header comment: any other value is an error. */
#define EXTFRAME_CONTINUE TC_ACT_OK
#define EXTFRAME_DROP TC_ACT_SHOT
/* The conventional error: OVS drops the packet and counts an error. */
#define EXTFRAME_ERROR TC_ACT_UNSPEC

/*
 * EXTFRAME_EFFECTS(...) - declare what the action may change.
 *
 * Exactly one per action file.  The argument is stringified into the
 * NUL-terminated text of ELF section ".extframe.effects", which libbpf does
 * not load and the analyzer and the CLI read.  Grammar of that text (the
 * preprocessor collapses white space between tokens to one space):
 *
 *   effects := "read_only"
 *            | "writes(" field { "," field } ")"
 *   field   := '"' name '"'
 *   name    := "eth.dst" | "eth.src" | "eth.type"
 *            | "vlan.tci" | "vlan.type"
 *            | "ip.version" | "ip.ihl" | "ip.tos" | "ip.len" | "ip.id"
 *            | "ip.frag" | "ip.ttl" | "ip.proto" | "ip.csum"
 *            | "ip.src" | "ip.dst" | "ip.options"
 *            | "ipv6.version" | "ipv6.tc" | "ipv6.flow_label"
 *            | "ipv6.payload_len" | "ipv6.next_header" | "ipv6.hop_limit"
 *            | "ipv6.src" | "ipv6.dst"
 *            | "tcp.src" | "tcp.dst" | "tcp.seq" | "tcp.ack"
 *            | "tcp.data_offset" | "tcp.flags" | "tcp.window"
 *            | "tcp.csum" | "tcp.urg" | "tcp.options"
 *            | "udp.src" | "udp.dst" | "udp.len" | "udp.csum"
 *            | "icmp.type" | "icmp.code" | "icmp.csum" | "icmp.rest"
 *            | "payload"          bytes beyond the parsed L4 header
 *            | "meta.mark"        skb->mark (OVS pkt_mark)
 *            | "meta.priority"    skb->priority (OVS skb_priority)
 *            | "length"           the packet length or layout changes
 *
 *   The names and the byte layout behind each are one table,
 *   analyzer/fields.py; a test keeps this list equal to it.
 *
 * Examples:
 *   EXTFRAME_EFFECTS(read_only);
 *   EXTFRAME_EFFECTS(writes("ip.ttl", "ip.csum", "ipv6.hop_limit"));
 *
 * read_only means: no packet byte, no classifier-visible metadata and no
 * length changes.  Reading anything and updating maps are not effects.
 */
#define EXTFRAME_EFFECTS(...) \
    static const char __extframe_effects[] \
    __attribute__((section(".extframe.effects"), used)) = #__VA_ARGS__

/* Metadata */

/* The OVS input port of the packet (odp port number), set by the datapath in
 * cb[0] before every run. */
static __always_inline __u32
extframe_in_port(const struct __sk_buff *skb)
{
	return skb->cb[0];
}

/* The argument of bpf(NAME,arg=N) in cb[1]; 0 when the flow gave none. */
static __always_inline __u32
extframe_arg(const struct __sk_buff *skb)
{
	return skb->cb[1];
}

/* OVS pkt_mark.  Reading is free; writing is the effect "meta.mark". */
static __always_inline __u32
extframe_mark(const struct __sk_buff *skb)
{
	return skb->mark;
}

/* Sets OVS pkt_mark; declare writes("meta.mark"). */
static __always_inline void
extframe_set_mark(struct __sk_buff *skb, __u32 mark)
{
	skb->mark = mark;
}

/* OVS skb_priority.  Reading is free; writing is "meta.priority". */
static __always_inline __u32
extframe_priority(const struct __sk_buff *skb)
{
	return skb->priority;
}

/* Sets OVS skb_priority; declare writes("meta.priority"). */
static __always_inline void
extframe_set_priority(struct __sk_buff *skb, __u32 priority)
{
	skb->priority = priority;
}

/* Header parsing
 *
 * A cursor walks the frame from the Ethernet header on.  Every parser takes
 * the cursor, checks that its whole header (options included) lies before
 * cur->end, and then returns a pointer to the header and moves cur->pos past
 * it; otherwise it returns NULL and leaves the cursor where it was.  A
 * pointer a parser returned may be read (and written) over the size of its
 * struct without further checks; the verifier knows the range.
 */

struct extframe_cursor {
	void *pos;		/* First byte not parsed yet. */
	void *end;		/* skb->data_end. */
};

/* One 802.1Q/802.1ad tag as it follows the Ethernet addresses; uapi has no
 * such struct (the kernel's vlan_hdr is internal). */
struct extframe_vlan_hdr {
	__be16 tci;		/* PCP, DEI and VLAN ID. */
	__be16 encap_proto;	/* Ethertype of what follows. */
};

/* The IPv6 fragment header (RFC 8200 4.5); uapi has none either. */
struct extframe_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* Offset (13 bits) << 3, 2 reserved, M. */
	__be32 identification;
};

/* Host-order masks of iphdr.frag_off and extframe_ipv6_frag_hdr.frag_off. */
#define EXTFRAME_IP_MF 0x2000
#define EXTFRAME_IP_OFFSET 0x1fff
#define EXTFRAME_IP6_MF 0x0001
#define EXTFRAME_IP6_OFFSET 0xfff8

/* At most this many VLAN tags are skipped (802.1ad + 802.1Q, as OVS). */
#define EXTFRAME_VLAN_MAX 2
/* At most this many IPv6 extension headers are skipped: enough for
 * hop-by-hop, destination options, routing and fragment once each, and a
 * constant bound keeps the unrolled code and the verifier's work small.
 * An action may define it (before including this file) to skip fewer: with
 * 0, a packet with any extension header looks like "not TCP/UDP". */
#ifndef EXTFRAME_IPV6_EXT_MAX
#define EXTFRAME_IPV6_EXT_MAX 4
#endif

/* Points the cursor at the whole frame. */
static __always_inline void
extframe_cursor_init(struct extframe_cursor *cur, const struct __sk_buff *skb)
{
	cur->pos = (void *)(long)skb->data;
	cur->end = (void *)(long)skb->data_end;
}

/* Parses the Ethernet header and stores its ethertype, in host byte order, in
 * *eth_type (the value extframe_parse_vlan() expects). */
static __always_inline struct ethhdr *
extframe_parse_eth(struct extframe_cursor *cur, __u16 *eth_type)
{
	struct ethhdr *eth = cur->pos;

	if ((void *)(eth + 1) > cur->end) {
		return NULL;
	}
	cur->pos = eth + 1;
	*eth_type = bpf_ntohs(eth->h_proto);
	return eth;
}

/* Returns nonzero when a host-order ethertype announces a VLAN tag. */
static __always_inline int
extframe_eth_type_is_vlan(__u16 eth_type)
{
	return eth_type == ETH_P_8021Q || eth_type == ETH_P_8021AD;
}

/* Skips up to EXTFRAME_VLAN_MAX tags when *eth_type (host order, as left by
 * extframe_parse_eth()) is 0x8100 or 0x88a8, and updates *eth_type to the
 * ethertype that follows the last tag skipped.  Returns the outermost tag,
 * or NULL when there was none.  A truncated tag, or a third one, stops the
 * walk with *eth_type still a VLAN TPID, so the caller sees a frame that is
 * not IP and leaves it alone. */
static __always_inline struct extframe_vlan_hdr *
extframe_parse_vlan(struct extframe_cursor *cur, __u16 *eth_type)
{
	struct extframe_vlan_hdr *outer = NULL;
	int i;

#pragma unroll
	for (i = 0; i < EXTFRAME_VLAN_MAX; i++) {
		struct extframe_vlan_hdr *vh = cur->pos;

		if (!extframe_eth_type_is_vlan(*eth_type)
		    || (void *)(vh + 1) > cur->end) {
			break;
		}
		if (!outer) {
			outer = vh;
		}
		cur->pos = vh + 1;
		*eth_type = bpf_ntohs(vh->encap_proto);
	}
	return outer;
}

/* Parses an IPv4 header with its options.  Rejects (NULL) a version other
 * than 4, ihl < 5 and a header that does not fit in the frame.  The cursor
 * then points at the L4 header, or at fragment data when
 * extframe_ipv4_frag_later() says so: check that before parsing L4.  The
 * total length field is not checked against the frame. */
static __always_inline struct iphdr *
extframe_parse_ipv4(struct extframe_cursor *cur)
{
	struct iphdr *iph = cur->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > cur->end) {
		return NULL;
	}
	if (iph->version != 4 || iph->ihl < 5) {
		return NULL;
	}
	hlen = iph->ihl * 4;
	if (cur->pos + hlen > cur->end) {
		return NULL;
	}
	cur->pos += hlen;
	return iph;
}

/* Nonzero for any IPv4 fragment: MF set or a non-zero offset. */
static __always_inline int
extframe_ipv4_is_frag(const struct iphdr *iph)
{
	return (iph->frag_off & bpf_htons(EXTFRAME_IP_MF | EXTFRAME_IP_OFFSET))
	       != 0;
}

/* Nonzero for an IPv4 fragment other than the first: what follows the IP
 * header is fragment data, not an L4 header. */
static __always_inline int
extframe_ipv4_frag_later(const struct iphdr *iph)
{
	return (iph->frag_off & bpf_htons(EXTFRAME_IP_OFFSET)) != 0;
}

/* Fragment flags reported by extframe_parse_ipv6() and in extframe_hdrs. */
#define EXTFRAME_FRAG_ANY 0x1	/* A fragment, first or later. */
#define EXTFRAME_FRAG_LATER 0x2	/* Not the first: no L4 header here. */

/* Parses the fixed IPv6 header (NULL when it does not fit or the version is
 * not 6) and skips up to EXTFRAME_IPV6_EXT_MAX hop-by-hop, routing,
 * destination options and fragment headers.  On return:
 *   *nexthdr  the first header not skipped: normally the upper-layer
 *             protocol (IPPROTO_TCP, ...).  It is an extension header type
 *             when that header is truncated or beyond the limit, so such a
 *             packet simply looks like "not TCP/UDP" to the caller.
 *   *frag     EXTFRAME_FRAG_* bits.  For a later fragment the walk stops at
 *             the fragment header: *nexthdr is the protocol it announces
 *             (as OVS reports nw_proto) but the cursor points at fragment
 *             data, so the caller must not parse L4.
 * Headers with other types (AH, ESP, ...) are left to the caller. */
static __always_inline struct ipv6hdr *
extframe_parse_ipv6(struct extframe_cursor *cur, __u8 *nexthdr, __u8 *frag)
{
	struct ipv6hdr *ip6 = cur->pos;
	__u8 nh;
	int i;

	*frag = 0;
	if ((void *)(ip6 + 1) > cur->end || ip6->version != 6) {
		return NULL;
	}
	cur->pos = ip6 + 1;
	nh = ip6->nexthdr;

#pragma unroll
	for (i = 0; i < EXTFRAME_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_FRAGMENT) {
			struct extframe_ipv6_frag_hdr *fh = cur->pos;

			if ((void *)(fh + 1) > cur->end) {
				break;
			}
			cur->pos = fh + 1;
			nh = fh->nexthdr;
			*frag |= EXTFRAME_FRAG_ANY;
			if (fh->frag_off & bpf_htons(EXTFRAME_IP6_OFFSET)) {
				*frag |= EXTFRAME_FRAG_LATER;
				break;
			}
		} else if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING
			   || nh == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *oh = cur->pos;
			__u32 len;

			if ((void *)(oh + 1) > cur->end) {
				break;
			}
			len = ((__u32)oh->hdrlen + 1) * 8;
			if (cur->pos + len > cur->end) {
				break;
			}
			nh = oh->nexthdr;
			cur->pos += len;
		} else {
			break;
		}
	}
	*nexthdr = nh;
	return ip6;
}

/* Parses a TCP header with its options.  Rejects doff < 5 and a header that
 * does not fit in the frame. */
static __always_inline struct tcphdr *
extframe_parse_tcp(struct extframe_cursor *cur)
{
	struct tcphdr *th = cur->pos;
	__u32 hlen;

	if ((void *)(th + 1) > cur->end || th->doff < 5) {
		return NULL;
	}
	hlen = th->doff * 4;
	if (cur->pos + hlen > cur->end) {
		return NULL;
	}
	cur->pos += hlen;
	return th;
}

/* Parses the 8-byte UDP header. */
static __always_inline struct udphdr *
extframe_parse_udp(struct extframe_cursor *cur)
{
	struct udphdr *uh = cur->pos;

	if ((void *)(uh + 1) > cur->end) {
		return NULL;
	}
	cur->pos = uh + 1;
	return uh;
}

/* Parses the 8-byte ICMP header (type, code, checksum, 4 bytes of
 * rest-of-header).  ICMPv6 shares that layout and goes through here too. */
static __always_inline struct icmphdr *
extframe_parse_icmp(struct extframe_cursor *cur)
{
	struct icmphdr *ih = cur->pos;

	if ((void *)(ih + 1) > cur->end) {
		return NULL;
	}
	cur->pos = ih + 1;
	return ih;
}

/* What extframe_parse_l2_l4() found.  A pointer is NULL when that header is
 * absent, truncated or malformed; each non-NULL one is bounds-checked. */
struct extframe_hdrs {
	struct ethhdr *eth;
	struct extframe_vlan_hdr *vlan;	/* Outermost tag, if any. */
	struct iphdr *ip;		/* Set for IPv4 ... */
	struct ipv6hdr *ip6;		/* ... or for IPv6, never both. */
	union {				/* Chosen by ip_proto; NULL when the */
		void *l4;		/* L4 header is not TCP, UDP, ICMP */
		struct tcphdr *tcp;	/* or ICMPv6, does not fit, or this */
		struct udphdr *udp;	/* is a later fragment. */
		struct icmphdr *icmp;
	};
	struct extframe_cursor cur;	/* After the last header parsed. */
	__u16 eth_type;			/* Host order, after VLAN tags. */
	__u8 ip_proto;			/* IPv4 protocol / IPv6 final next
					 * header; 0 without IP. */
	__u8 frag;			/* Nonzero for any IP fragment. */
	__u8 frag_later;		/* Nonzero for a later fragment. */
};

/* Parses Ethernet, up to two VLAN tags, IPv4 or IPv6 (with extension
 * headers) and TCP, UDP, ICMP or ICMPv6 in one call:
 *
 *	struct extframe_hdrs h;
 *
 *	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.ip) {
 *		return EXTFRAME_CONTINUE;
 *	}
 *
 * Returns 0 when at least the Ethernet header was there, -1 otherwise.  It
 * stops at the first header that is missing or malformed and leaves that
 * pointer and those after it NULL. */
static __always_inline int
extframe_parse_l2_l4(const struct __sk_buff *skb, struct extframe_hdrs *h)
{
	struct extframe_cursor *cur = &h->cur;
	__u8 frag = 0;

	h->vlan = NULL;
	h->ip = NULL;
	h->ip6 = NULL;
	h->l4 = NULL;
	h->eth_type = 0;
	h->ip_proto = 0;
	h->frag = 0;
	h->frag_later = 0;

	extframe_cursor_init(cur, skb);
	h->eth = extframe_parse_eth(cur, &h->eth_type);
	if (!h->eth) {
		return -1;
	}
	h->vlan = extframe_parse_vlan(cur, &h->eth_type);

	if (h->eth_type == ETH_P_IP) {
		h->ip = extframe_parse_ipv4(cur);
		if (!h->ip) {
			return 0;
		}
		h->ip_proto = h->ip->protocol;
		h->frag = extframe_ipv4_is_frag(h->ip);
		h->frag_later = extframe_ipv4_frag_later(h->ip);
	} else if (h->eth_type == ETH_P_IPV6) {
		h->ip6 = extframe_parse_ipv6(cur, &h->ip_proto, &frag);
		if (!h->ip6) {
			return 0;
		}
		h->frag = (frag & EXTFRAME_FRAG_ANY) != 0;
		h->frag_later = (frag & EXTFRAME_FRAG_LATER) != 0;
	} else {
		return 0;
	}
	if (h->frag_later) {
		return 0;
	}

	switch (h->ip_proto) {
	case IPPROTO_TCP:
		h->tcp = extframe_parse_tcp(cur);
		break;
	case IPPROTO_UDP:
		h->udp = extframe_parse_udp(cur);
		break;
	case IPPROTO_ICMP:
		if (h->ip) {
			h->icmp = extframe_parse_icmp(cur);
		}
		break;
	case IPPROTO_ICMPV6:
		if (h->ip6) {
			h->icmp = extframe_parse_icmp(cur);
		}
		break;
	}
	return 0;
}

/* VLAN tags in the bytes
 *
 * bpf_skb_vlan_push() puts a tag in skb->vlan_tci, hardware-acceleration
 * metadata that BPF_PROG_TEST_RUN does not return, so OVS would never see
 * it.  extframe_vlan_insert_tag() pushes the tag into the frame's bytes.
 */

/* The first 16 bytes of a tagged frame: the Ethernet addresses and the
 * outermost tag's TPID and TCI, written in one bpf_skb_store_bytes(). */
struct extframe_vlan_tagged_head {
	__u8 addrs[2 * ETH_ALEN];
	__be16 tpid;
	__be16 tci;
};

/* Inserts a tag (TPID and TCI in network byte order) between the Ethernet
 * addresses and what follows them, in the frame's bytes: the frame grows by
 * 4 bytes at the front, the addresses move back to offset 0 and the tag
 * fills the gap, so the old ethertype (or outer tag) now follows the new
 * tag.  Returns 0 or the helpers' negative errno; no packet pointer is
 * valid afterwards.  Declare writes("length"). */
static __always_inline long
extframe_vlan_insert_tag(struct __sk_buff *skb, __be16 tpid, __be16 tci)
{
	struct extframe_vlan_tagged_head head;
	long err;

	err = bpf_skb_load_bytes(skb, 0, head.addrs, sizeof(head.addrs));
	if (err) {
		return err;
	}
	head.tpid = tpid;
	head.tci = tci;
	err = bpf_skb_change_head(skb, sizeof(struct extframe_vlan_hdr), 0);
	if (err) {
		return err;
	}
	return bpf_skb_store_bytes(skb, 0, &head, sizeof(head), 0);
}

/* Checksums */

/* Returns the Internet checksum 'check' updated for one 16-bit word changing
 * from 'old' to 'new' (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).  Unlike
 * RFC 1141's HC' = HC + m - m', this never yields 0xffff for a header whose
 * checksum from scratch is 0x0000.  The one's complement sum does not depend
 * on byte order, so pass the words exactly as they are on the wire. */
static __always_inline __sum16
extframe_csum16_replace(__sum16 check, __be16 old, __be16 new)
{
	__u32 sum;

	sum = (__u16)~check + (__u16)~old + (__u16)new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

#endif /* extframe.h */
