// SPDX-License-Identifier: GPL-2.0
/* A constant in .rodata, which libbpf freezes: the verifier takes its
 * value for a known constant, so the switch must never let it change. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 limit = 100;

SEC("tc")
int rodata_limit(struct __sk_buff *skb)
{
	skb->mark = skb->len > limit;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
