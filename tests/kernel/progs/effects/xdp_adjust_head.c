/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xdp_adjust_head - grows the head by 4 bytes, writes bytes 0 and 5 of the
 * moved start (bytes -4 and 1 of the original frame), then shrinks it back:
 * the frame keeps its length, but offsets after a layout change are not
 * offsets of the original frame.
 * Effect: writes byte 1 of the frame; layout changes.
 */
#include "extframe.h"
SEC("xdp")
int xdp_adjust_head(struct xdp_md *x)
{
	if (bpf_xdp_adjust_head(x, -4)) return XDP_PASS;
	__u8 *d = (void *)(long)x->data, *e = (void *)(long)x->data_end;
	if (d + 8 > e) return XDP_PASS;
	d[0] = 1; d[5] = 2;
	if (bpf_xdp_adjust_head(x, 4)) return XDP_PASS;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
