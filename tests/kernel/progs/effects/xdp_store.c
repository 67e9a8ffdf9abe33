/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xdp_store - XDP: swap the first two bytes of eth.dst with direct stores.
 * Effect: writes [0, 1]; always XDP_PASS.
 */
#include "extframe.h"

SEC("xdp")
int xdp_store(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	unsigned char b0;

	if (data + 14 > end) {
		return XDP_PASS;
	}
	b0 = data[0];
	data[0] = data[1];
	data[1] = b0;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
