/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * v6ext_global_port - shaped like payload_scrub: the entry point parses
 * (VLAN tags, IPv6 extension headers), checks for UDP and hands the UDP
 * header's offset to a global function, which the verifier verifies on its
 * own for any offset.  This one flips the low bit of the UDP destination
 * port (udp_off + 3): in the flow key, whatever the chain.
 * Effect: writes udp.dst behind any chain, from a global function.
 */
#include "extframe.h"

__noinline int
flip_udp_port(struct __sk_buff *skb, __u64 udp_off)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct udphdr *uh;

	if (udp_off > 0x7fff) {
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
int v6ext_global_port(struct __sk_buff *skb)
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
