/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * global_two_callers - one global function, two call sites: the entry
 * point pokes a byte of UDP payload (udp_off + 8) and then the low byte of
 * the UDP source port (udp_off + 1).  The analyzer follows each caller's
 * argument into the function; were it to keep only one call's, it would
 * miss the port, which is in the flow key.
 * Effect: writes payload and udp.src, from a global function.
 */
#define EXTFRAME_IPV6_EXT_MAX 0
#include "extframe.h"

__noinline int
poke(struct __sk_buff *skb, __u64 off)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *p;

	if (off > 0xff) {
		return 0;
	}
	p = data + off;
	if ((void *)(p + 1) > end) {
		return 0;
	}
	*p ^= 0x01;
	return 0;
}

SEC("tc")
int global_two_callers(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct extframe_hdrs h;
	__u64 udp_off;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4
	    || h.ip_proto != IPPROTO_UDP) {
		return EXTFRAME_CONTINUE;
	}
	udp_off = (void *)h.udp - data;
	poke(skb, udp_off + 8);
	poke(skb, udp_off + 1);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
