/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dynptr_slice_rdwr - a feature probe, not a crafted program: it only makes
 * an skb dynptr and takes a writable slice of it (bpf_dynptr_slice_rdwr),
 * and writes nothing. Whether the kernel's verifier accepts this says
 * whether crafted programs built on the construct (effects/
 * dynptr_slice_write.c) can load here; some 6.18 kernels refuse it with
 * "bpf_dynptr_slice_rdwr() is not allowed".
 */
#include "extframe.h"

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *ptr, __u32 offset,
				   void *buffer, __u32 buffer__szk) __ksym;

SEC("tc")
int dynptr_slice_rdwr(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;
	unsigned char buf[4];

	if (bpf_dynptr_from_skb(skb, 0, &ptr)) {
		return EXTFRAME_CONTINUE;
	}
	if (!bpf_dynptr_slice_rdwr(&ptr, 20, buf, sizeof(buf))) {
		return EXTFRAME_CONTINUE;
	}
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
