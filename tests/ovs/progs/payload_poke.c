/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * payload_poke - on IPv4 without options carrying UDP, set the first byte
 * of the UDP payload to 'X' (0x58); the UDP checksum is left as it is, so
 * tests send datagrams without one (0).
 * Effect: writes exactly byte 42, which is payload: the flow key is not
 * touched and OVS must not re-classify after it.
 */
#include "extframe.h"

SEC("tc")
int payload_poke(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 43 > end) {
		return EXTFRAME_CONTINUE;
	}
	if (data[12] != 0x08 || data[13] != 0x00 || data[14] != 0x45 || data[23] != 17) {
		return EXTFRAME_CONTINUE;
	}
	data[42] = 'X';
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
