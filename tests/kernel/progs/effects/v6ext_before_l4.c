/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * v6ext_before_l4 - parses like payload_scrub (VLAN tags, IPv6 extension
 * headers in extframe.h's loop), checks for UDP, then flips a bit of the
 * byte 8 bytes *before* the UDP header: behind an extension header that
 * is the byte announcing UDP (its next-header field), else a byte of the
 * IPv6 destination address (or of IPv4's).  It looks like a write relative
 * to the UDP header, but it is not behind it, and OVS keys on it: a rule
 * that names positions from an IPv6 chain must still say flow key.
 * Effect: writes one byte 8 bytes in front of a UDP header.
 */
#include "extframe.h"

SEC("tc")
int v6ext_before_l4(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	__u8 *before;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4
	    || h.ip_proto != IPPROTO_UDP) {
		return EXTFRAME_CONTINUE;
	}
	before = (__u8 *)h.udp - 8;
	if ((void *)before < (void *)(long)skb->data) {
		return EXTFRAME_CONTINUE;
	}
	*before ^= 0x01;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
