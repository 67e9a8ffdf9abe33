/* SPDX-License-Identifier: GPL-2.0-only */
/* Accepted, with a level-2 verifier log of several megabytes: the loop's
 * counter differs on every turn, so the verifier walks all 3,000 turns
 * and prints its state each time. One check must verify it once. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc") int big_log(struct __sk_buff *skb)
{
	__u32 seen = 0;

	for (__u32 i = 0; i < 3000; i++) {
		seen += skb->len & i;
	}
	return seen ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
