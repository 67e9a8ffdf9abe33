/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * global_udp_port - payload_scrub's shape without IPv6 extension headers:
 * the entry point parses (VLAN tags, IPv4 options, IPv6), checks for UDP
 * and hands the UDP header's offset to a global function, which the
 * verifier verifies on its own for any offset.  This one flips the low bit
 * of the UDP destination port (udp_off + 3): in the flow key.  The kernel's
 * span is any offset; the analyzer names the field from the caller's
 * argument, and must name this one.
 * Effect: writes udp.dst, from a global function.
 */
#define EXTFRAME_IPV6_EXT_MAX 0
#include "extframe.h"

__noinline int
flip_udp_port(struct __sk_buff *skb, __u64 udp_off)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct udphdr *uh;

	if (udp_off > 0xff) {
		return 0;
	}
	uh = data + udp_off;
	if ((void *)(uh + 1) > end) {
		return 0;
	}
	uh->dest ^= bpf_htons(1);
	return 0;
}

SEC("tc")
int global_udp_port(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct extframe_hdrs h;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4
	    || h.ip_proto != IPPROTO_UDP) {
		return EXTFRAME_CONTINUE;
	}
	flip_udp_port(skb, (void *)h.udp - data);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
