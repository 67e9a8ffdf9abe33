/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * v6ext_tcp_port - the parse of payload_scrub (VLAN tags, IPv6 extension
 * headers in extframe.h's loop), but for TCP: flips the low bit of the
 * destination port.  A write behind an L4 header whose protocol the path
 * checked, but the protocol is TCP and the field is in the flow key.
 * Effect: writes tcp.dst (its low byte) behind any chain.
 */
#include "extframe.h"

SEC("tc")
int v6ext_tcp_port(struct __sk_buff *skb)
{
	struct extframe_hdrs h;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4
	    || h.ip_proto != IPPROTO_TCP) {
		return EXTFRAME_CONTINUE;
	}
	h.tcp->dest ^= bpf_htons(1);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
