// SPDX-License-Identifier: GPL-2.0
/* bpf_skb_change_tail() in every mode, chosen per frame from its argument
 * and priority: grow (the new bytes must be zeros; the last one is read
 * back), shrink to the minimum (the network header's offset, 14) and below
 * it, lengths 0, 16064 (the kernel's largest, then back) and 16065, a
 * length with bits above 32, flags, and after bpf_skb_change_head(), which
 * moves the minimum.  The helper's results come back as the mark and
 * priority, and so does the last byte read after growing. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int helper_change_tail(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 sel = (skb->cb[1] ^ skb->priority) % 16;
	__u32 p = skb->mark;
	long r1 = 0, r2 = 0;

	switch (sel) {
	case 0:
		r1 = bpf_skb_change_tail(skb, len + 1 + p % 64, 0);
		break;
	case 1:
		r1 = bpf_skb_change_tail(skb, 14, 0);
		break;
	case 2:
		r1 = bpf_skb_change_tail(skb, 13, 0);
		break;
	case 3:
		r1 = bpf_skb_change_tail(skb, 0, 0);
		break;
	case 4:
		r1 = bpf_skb_change_tail(skb, len + 4, 1);
		r2 = bpf_skb_change_tail(skb, len - 1, 1ULL << 40);
		break;
	case 5:
		r1 = bpf_skb_change_tail(skb, 16064, 0);
		r2 = bpf_skb_change_tail(skb, len, 0);
		break;
	case 6:
		r1 = bpf_skb_change_tail(skb, 16065, 0);
		r2 = bpf_skb_change_tail(skb, 0xffffffff, 0);
		break;
	case 7:
		r1 = bpf_skb_change_tail(skb, len, 0);
		break;
	case 8: {
		/* Grow, then read the last new byte and write one. */
		void *data, *end;
		__u8 *last;
		__u32 off;

		r1 = bpf_skb_change_tail(skb, len + 8, 0);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		off = skb->len - 1;
		if (r1 || off > 1000)
			break;
		last = data + off;
		if ((void *)(last + 1) > end)
			break;
		r2 = *last + 0x100;
		*last = 0xab;
		break;
	}
	case 9:
		r1 = bpf_skb_change_head(skb, 4, 0);
		r2 = bpf_skb_change_tail(skb, 14 + 3 + p % 2, 0);
		r2 = r2 * 3 + bpf_skb_change_tail(skb, 18, 0);
		break;
	case 10:
		r1 = bpf_skb_change_tail(skb, len - p % len, 0);
		break;
	case 11:
		r1 = bpf_skb_change_tail(skb, len + 256, 0);
		break;
	case 12:
		/* The length is a u32: the high bits go. */
		r1 = bpf_skb_change_tail(skb, (1ULL << 32) | 20, 0);
		break;
	case 13:
		/* Shrink, then grow back: zeros where the bytes were. */
		r1 = bpf_skb_change_tail(skb, 20 + p % 8, 0);
		r2 = bpf_skb_change_tail(skb, len, 0);
		break;
	case 14:
		r1 = bpf_skb_change_tail(skb, len * 2 > 300 ? 300 : len * 2, 0);
		r2 = skb->len;
		break;
	default:
		r1 = bpf_skb_change_tail(skb, 15, 0);
		r2 = skb->len;
		break;
	}
	skb->mark = (__u32)r1;
	skb->priority = (__u32)r2;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
