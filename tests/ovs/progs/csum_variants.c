// SPDX-License-Identifier: GPL-2.0
/* Every form of the checksum and byte helpers the in-process executor
 * offers, with their error returns, chosen per frame from its argument and
 * priority; the helper's return value comes back as the mark.  The
 * differential test compares both executors on it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* BPF_F_IPV6, which older <linux/bpf.h> lack. */
#define F_IPV6 (1ULL << 7)

SEC("tc")
int csum_variants(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u8 buf[8] = {};
	long ret = 0;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;

	__u32 sel = (skb->cb[1] ^ skb->priority) % 13;
	__u32 old_addr = ip->saddr, new_addr = ip->saddr ^ skb->mark;
	__u16 old_id = ip->id, new_id = ip->id + (__u16)skb->priority;
	__u32 l4 = sizeof(*eth) + ip->ihl * 4;
	__u32 l4_csum = l4 + (ip->protocol == IPPROTO_TCP ? 16 : 6);
	__u64 mangled = ip->protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 csum_off = sizeof(*eth) + offsetof(struct iphdr, check);

	switch (sel) {
	case 0:
		ret = bpf_l3_csum_replace(skb, csum_off, old_id, new_id, 2);
		ret |= bpf_skb_store_bytes(skb, sizeof(*eth) + 4, &new_id, 2, 0);
		break;
	case 1:
		ret = bpf_l3_csum_replace(skb, csum_off, old_addr, new_addr, 4);
		ret |= bpf_l4_csum_replace(skb, l4_csum, old_addr, new_addr,
					   BPF_F_PSEUDO_HDR | mangled | 4);
		ret |= bpf_skb_store_bytes(skb, sizeof(*eth) + 12, &new_addr, 4,
					   BPF_F_RECOMPUTE_CSUM);
		break;
	case 2:
		ret = bpf_l3_csum_replace(skb, csum_off, 0, skb->mark, 0);
		break;
	case 3:
		ret = bpf_l4_csum_replace(skb, l4_csum, old_id, new_id, mangled | 2);
		break;
	case 4:
		ret = bpf_l4_csum_replace(skb, l4_csum, 0, skb->mark,
					  BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE);
		break;
	case 5:
		ret = bpf_l3_csum_replace(skb, csum_off, 0, 0, 3);	/* -EINVAL */
		break;
	case 6:
		ret = bpf_l3_csum_replace(skb, csum_off + 1, 0, 1, 2);	/* -EFAULT */
		break;
	case 7:
		ret = bpf_l4_csum_replace(skb, skb->len - 1, 0, 1, 2);	/* -EFAULT */
		ret = ret * 3 + bpf_l4_csum_replace(skb, skb->len, 0, 1, 2);
		break;
	case 8:
		ret = bpf_skb_store_bytes(skb, skb->len - 4, buf, 8, 0);	/* -EFAULT */
		ret = ret * 3 + bpf_skb_store_bytes(skb, 0, buf, 2, 4);	/* -EINVAL */
		break;
	case 9:
		__builtin_memset(buf, 0xab, sizeof(buf));
		ret = bpf_skb_load_bytes(skb, skb->len - 4, buf, 8);	/* zeroed */
		ret = ret * 3 + buf[0] + buf[7];
		break;
	case 10:
		ret = bpf_skb_load_bytes(skb, l4, buf, 8);
		ret = ret * 3 + buf[0] + buf[7];
		ret |= bpf_skb_store_bytes(skb, l4, buf + 2, 4, BPF_F_INVALIDATE_HASH);
		break;
	case 11:
		/* Taken since Linux 6.16, -EINVAL before: the switch probes which. */
		ret = bpf_l4_csum_replace(skb, l4_csum, old_id, new_id, F_IPV6 | 2);
		break;
	default:
		ret = bpf_l4_csum_replace(skb, l4_csum, old_addr, new_addr, 16 | 4);
		break;
	}
	skb->mark = (__u32)ret;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
