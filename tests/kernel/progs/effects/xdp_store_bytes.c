/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xdp_store_bytes - an XDP program that writes 2 bytes at offset 6 (the
 * first two bytes of eth.src) with bpf_xdp_store_bytes(), a helper that
 * writes packet bytes but is not on the kernel's "changes packet data" list.
 * Effect: writes [6, 7].
 */
#include "extframe.h"

SEC("xdp")
int xdp_store_bytes(struct xdp_md *ctx)
{
	__u8 bytes[2] = {0x02, 0x42};

	if (bpf_xdp_store_bytes(ctx, 6, bytes, sizeof(bytes)) < 0) {
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
