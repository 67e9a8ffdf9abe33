/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: looks up a socket and never releases it. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int reject_unreleased_ref(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;

	sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		return TC_ACT_OK;
	}
	return sk->mark ? TC_ACT_SHOT : TC_ACT_OK;
}
