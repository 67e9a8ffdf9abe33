// SPDX-License-Identifier: GPL-2.0
/* Every context field the in-process executor offers, read and written
 * through a subprogram and a spilled copy of the context pointer: the
 * differential test compares what both executors give for each. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int mix(struct __sk_buff *skb, int k)
{
	skb->cb[2] = skb->protocol ^ skb->ifindex ^ k;
	skb->cb[3] = skb->vlan_proto + skb->cb[4];
	return skb->vlan_present + skb->vlan_tci + skb->cb[2] + skb->cb[3];
}

SEC("tc")
int ctx_fields(struct __sk_buff *skb)
{
	volatile struct __sk_buff *saved = skb;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	void *meta = (void *)(long)skb->data_meta;

	skb->priority = skb->len * 3 + mix(skb, skb->cb[0]);
	skb->mark = saved->mark + skb->cb[1] + (__u32)(data_end - data) + (meta == data);
	*(volatile __u8 *)&skb->cb[4] = (__u8)skb->mark;
	return skb->cb[1] == 2 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
