/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loop_ne_bound - a counted loop whose exit test is "i != 9": it writes
 * the 9 bytes from tcp + 4 on, the sequence and acknowledgement numbers
 * (not in the flow key) and, in its last turn only, byte 12, which holds
 * the data offset and the NS flag (in the flow key's tcp_flags).  An
 * analysis that bounded the counter one short would call the key
 * untouched.
 * Effect: writes tcp.seq, tcp.ack, tcp.data_offset, tcp.flags.
 */
#include "extframe.h"

SEC("tc")
int loop_ne_bound(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	__u8 *p;
	__u64 i;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.ip || !h.l4
	    || h.ip_proto != IPPROTO_TCP) {
		return EXTFRAME_CONTINUE;
	}
	p = (__u8 *)h.tcp + 4;
#pragma nounroll
	for (i = 0; i != 9; i++) {
		if ((void *)(p + i + 1) > h.cur.end) {
			break;
		}
		p[i] ^= 0x01;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
