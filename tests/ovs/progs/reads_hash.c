// SPDX-License-Identifier: GPL-2.0
/* Reads skb->hash, a context field the in-process executor does not offer:
 * the switch must run it in the kernel and say which field and line. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int reads_hash(struct __sk_buff *skb)
{
	skb->mark = skb->hash + skb->len;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
