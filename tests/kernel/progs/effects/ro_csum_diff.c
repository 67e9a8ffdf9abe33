/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ro_csum_diff - bpf_csum_diff() over the 20-byte IPv4 header, passed
 * straight from the packet as the helper's "from" buffer, into a scalar
 * that only decides the verdict (always continue; the sum is kept in a
 * volatile stack slot).
 * Effect: none (read-only).
 */
#include "extframe.h"

SEC("tc")
int ro_csum_diff(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	volatile __s64 sum;

	if (data + 34 > end) {
		return EXTFRAME_CONTINUE;
	}
	sum = bpf_csum_diff(NULL, 0, data + 14, 20, 0);
	(void)sum;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
