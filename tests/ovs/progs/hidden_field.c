// SPDX-License-Identifier: GPL-2.0
/* Reads skb->tc_index, which the in-process executor does not offer,
 * through a spilled copy of the context pointer handed to a subprogram:
 * the switch's load-time analysis must still find it and keep the program
 * on the kernel path. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int peek(struct __sk_buff *skb)
{
	return skb->tc_index;
}

SEC("tc")
int hidden_field(struct __sk_buff *skb)
{
	volatile struct __sk_buff *saved = skb;

	skb->mark = peek((struct __sk_buff *)saved) + 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
