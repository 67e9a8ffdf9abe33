/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: packet pointers across helper calls: bpf_get_prandom_u32 keeps
 * them, bpf_skb_store_bytes invalidates every one of them (the kernel's
 * bpf_helper_changes_pkt_data()), so the program reloads skb->data. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int helper_calls(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u8 tos = bpf_get_prandom_u32() & 0xfc;

	if (data + 34 > end) {
		return TC_ACT_OK;
	}
	data[15] = tos;
	bpf_skb_store_bytes(skb, 22, &tos, 1, 0);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + 34 > end) {
		return TC_ACT_OK;
	}
	data[23] = 17;
	return TC_ACT_OK;
}
