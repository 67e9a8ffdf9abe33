/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dynptr_slice_write - makes an skb dynptr (bpf_dynptr_from_skb), takes a
 * writable 4-byte slice at offset 20 (bpf_dynptr_slice_rdwr) and writes its
 * third byte: byte 22, ip.ttl on an untagged IPv4 frame. The verifier types
 * the slice as memory, not as a packet pointer, so only the analyzer's
 * kfunc table and its provenance analysis see the write.
 * Effect: writes [20, 23] (the slice) through the store at [22, 22].
 */
#include "extframe.h"

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *ptr, __u32 offset,
				   void *buffer, __u32 buffer__szk) __ksym;

SEC("tc")
int dynptr_slice_write(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;
	unsigned char buf[4];
	unsigned char *slice;

	if (bpf_dynptr_from_skb(skb, 0, &ptr)) {
		return EXTFRAME_CONTINUE;
	}
	slice = bpf_dynptr_slice_rdwr(&ptr, 20, buf, sizeof(buf));
	if (!slice) {
		return EXTFRAME_CONTINUE;
	}
	slice[2] = 9;
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
