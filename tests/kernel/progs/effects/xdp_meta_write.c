/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xdp_meta_write - grow the XDP metadata area in front of the frame by 4
 * bytes with bpf_xdp_adjust_meta() and store a tag there, as a program
 * that hands a value to the next one does.
 * Effect: writes meta.data_meta; no byte from the Ethernet header on, and
 * not the length, changes: the flow key is untouched.
 */
#include "extframe.h"

SEC("xdp")
int xdp_meta_write(struct xdp_md *ctx)
{
	void *data;
	__u32 *meta;

	if (bpf_xdp_adjust_meta(ctx, -4)) {
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data) {
		return XDP_PASS;
	}
	*meta = 42;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
