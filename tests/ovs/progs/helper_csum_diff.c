// SPDX-License-Identifier: GPL-2.0
/* bpf_csum_diff() on every kind of input, chosen per frame from its
 * argument and priority: sizes 0, 1, 2, 3, 4, 6, 8, 12, 16, 20, 64, 128
 * and 256, from the stack and from the packet, with the frame's mark as
 * the seed (0, 1, 0xffffffff and random ones), all-zero and all-ones
 * buffers (the representation of a zero sum), and a diff fed to
 * bpf_l3_csum_replace() after a rewrite of the IPv4 source address.  The
 * helper's 64-bit result comes back as the mark (low half) and priority
 * (high half), so that a wrong fold or a missed -EINVAL shows, and goes
 * into the checksum of an IPv4 header. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int helper_csum_diff(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 a[16] = { 0x45, 0x00, 0x01, 0x02, 0xff, 0xfe, 0x80, 0x01,
		       0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02 };
	__u32 ones[2] = { 0xffffffff, 0xffffffff };
	__u32 zeros[2] = { 0, 0 };
	__u32 seed = skb->mark;
	__u32 sel = (skb->cb[1] ^ skb->priority) % 20;
	long r = 0;

	a[3] = skb->len;
	a[9] = seed >> 8;
	switch (sel) {
	case 0:
		r = bpf_csum_diff(NULL, 0, NULL, 0, seed);
		break;
	case 1:
		r = bpf_csum_diff((void *)a, 4, (void *)&a[4], 4, 0);
		break;
	case 2:
		r = bpf_csum_diff((void *)a, 8, (void *)&a[4], 12, seed);
		break;
	case 3:
		r = bpf_csum_diff((void *)a, 2, (void *)&a[8], 6, seed);
		break;
	case 4:
		r = bpf_csum_diff((void *)a, 1, NULL, 0, seed);
		break;
	case 5:
		r = bpf_csum_diff(NULL, 0, (void *)a, 3, seed);
		break;
	case 6:
		r = bpf_csum_diff((void *)zeros, 4, (void *)zeros, 4, 0);
		break;
	case 7:
		r = bpf_csum_diff((void *)ones, 8, NULL, 0, 0);
		break;
	case 8:
		r = bpf_csum_diff(NULL, 0, (void *)zeros, 8, 0);
		break;
	case 9:
		r = bpf_csum_diff((void *)ones, 4, (void *)zeros, 4, seed);
		break;
	case 10:
		r = bpf_csum_diff((void *)zeros, 8, (void *)ones, 8, 0xffffffff);
		break;
	case 11:
		/* The IPv4 header, pushed and pulled. */
		if (data + 34 > end)
			return TC_ACT_OK;
		r = bpf_csum_diff(NULL, 0, data + 14, 20, 0);
		r = r * 7 + bpf_csum_diff(data + 14, 20, NULL, 0, seed);
		break;
	case 12:
		if (data + 64 > end)
			return TC_ACT_OK;
		r = bpf_csum_diff(data, 64, (void *)a, 16, seed);
		break;
	case 13:
		if (data + 256 > end)
			return TC_ACT_OK;
		r = bpf_csum_diff((void *)a, 16, data, 256, seed);
		break;
	case 14:
		/* More than 512 bytes in all (-EINVAL before Linux 6.13). */
		if (data + 300 > end)
			return TC_ACT_OK;
		r = bpf_csum_diff(data, 300, data + 1, 256, seed);
		break;
	case 15:
		if (data + 128 > end)
			return TC_ACT_OK;
		r = bpf_csum_diff(data + 3, 128 - 3, data + 1, 127, seed);
		break;
	case 16: {
		/* A rewrite of the IPv4 source address, its checksum fixed with
		 * the diff. */
		struct iphdr *ip = data + sizeof(struct ethhdr);
		__u32 old, new;

		if ((void *)(ip + 1) > end ||
		    ((struct ethhdr *)data)->h_proto != bpf_htons(ETH_P_IP))
			return TC_ACT_OK;
		old = ip->saddr;
		new = old ^ seed;
		r = bpf_csum_diff(&old, 4, &new, 4, 0);
		bpf_skb_store_bytes(skb, 26, &new, 4, 0);
		bpf_l3_csum_replace(skb, 24, 0, r, 0);
		break;
	}
	case 17:
		r = bpf_csum_diff((void *)a, 16, (void *)a, 16, seed);
		break;
	case 18:
		r = bpf_csum_diff((void *)a, 12, (void *)&a[1], 12, 0);
		break;
	default:
		r = bpf_csum_diff((void *)ones, 4, (void *)ones, 4, seed);
		break;
	}
	skb->mark = (__u32)r;
	skb->priority = (__u32)((__u64)r >> 32);

	/* Whatever came back goes into an IPv4 header's checksum as a diff, as
	 * programs use it. */
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + 34 <= end &&
	    ((struct ethhdr *)data)->h_proto == bpf_htons(ETH_P_IP))
		bpf_l3_csum_replace(skb, 24, 0, r, 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
