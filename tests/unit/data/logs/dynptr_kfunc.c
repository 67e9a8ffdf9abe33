/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: kfunc calls on an skb dynptr: bpf_dynptr_from_skb, then a
 * writable slice (bpf_dynptr_slice_rdwr) and a write through it. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *ptr, __u32 offset,
				   void *buffer, __u32 buffer__szk) __ksym;

SEC("tc")
int dynptr_kfunc(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;
	unsigned char buf[4];
	unsigned char *ttl;

	if (bpf_dynptr_from_skb(skb, 0, &ptr)) {
		return TC_ACT_OK;
	}
	ttl = bpf_dynptr_slice_rdwr(&ptr, 20, buf, sizeof(buf));
	if (!ttl) {
		return TC_ACT_OK;
	}
	ttl[2] = 9;	/* byte 22: ip.ttl */
	return TC_ACT_OK;
}
