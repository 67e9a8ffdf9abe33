/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mac_rewrite - set the Ethernet destination and/or source address by input
 * port, as a router rewriting next-hop addresses does.
 *
 * Map mac_rewrite_rules (BPF_MAP_TYPE_HASH, up to 1024 ports), filled by the
 * operator:
 *   key    __u32 OVS input port (extframe_in_port(), cb[0]), host byte order
 *   value  struct mac_rewrite_rule, 13 bytes, no padding:
 *            __u8 dst[6]   new destination address, wire order
 *            __u8 src[6]   new source address, wire order
 *            __u8 flags    MAC_REWRITE_DST (0x1): write dst
 *                          MAC_REWRITE_SRC (0x2): write src
 *                          other bits are ignored
 *          An address is written only when its flag is set, so any address,
 *          00:00:00:00:00:00 included, can be set; an entry with flags 0
 *          changes nothing.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict (always continue; only the first 12 bytes may change):
 *   port with a rule, flags 0x3             dst and src set
 *   port with a rule, flags 0x1 / 0x2       only dst / only src set
 *   port with a rule, flags 0               unchanged
 *   port without a rule                     unchanged
 *   any frame with a whole Ethernet header  as above, whatever follows:
 *   (14-byte frame, ARP, VLAN, QinQ,        the Ethernet header is at a
 *   IPv4/IPv6, fragments, truncated L3/L4)  fixed place and nothing else
 *                                           is parsed or touched
 *   frame shorter than 14 bytes             unchanged (BPF_PROG_TEST_RUN
 *                                           refuses such frames anyway)
 * ARP's own sender/target hardware addresses are payload to this action and
 * are not rewritten.  No checksum covers the Ethernet addresses.
 *
 * Writes are direct packet stores at fixed offsets 0..11 of the frame, so
 * the analyzer maps them to eth.dst and eth.src from the verifier's packet
 * pointer offsets.
 */
#include "extframe.h"

/* Bits of mac_rewrite_rule.flags. */
#define MAC_REWRITE_DST 0x1
#define MAC_REWRITE_SRC 0x2

struct mac_rewrite_rule {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct mac_rewrite_rule);
	__uint(max_entries, 1024);
} mac_rewrite_rules SEC(".maps");

EXTFRAME_EFFECTS(writes("eth.dst", "eth.src"));

char LICENSE[] SEC("license") = "GPL";

/* Entry point: looks up the input port's rule and copies the addresses its
 * flags select into the Ethernet header. */
SEC("tc")
int
mac_rewrite(struct __sk_buff *skb)
{
	__u32 port = extframe_in_port(skb);
	const struct mac_rewrite_rule *rule;
	struct extframe_cursor cur;
	struct ethhdr *eth;
	__u16 eth_type;

	rule = bpf_map_lookup_elem(&mac_rewrite_rules, &port);
	if (!rule) {
		return EXTFRAME_CONTINUE;
	}
	extframe_cursor_init(&cur, skb);
	eth = extframe_parse_eth(&cur, &eth_type);
	if (!eth) {
		return EXTFRAME_CONTINUE;
	}
	if (rule->flags & MAC_REWRITE_DST) {
		__builtin_memcpy(eth->h_dest, rule->dst, ETH_ALEN);
	}
	if (rule->flags & MAC_REWRITE_SRC) {
		__builtin_memcpy(eth->h_source, rule->src, ETH_ALEN);
	}
	return EXTFRAME_CONTINUE;
}
