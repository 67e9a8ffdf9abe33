// SPDX-License-Identifier: GPL-2.0
/* bpf_skb_adjust_room() in both modes (BPF_ADJ_ROOM_NET, BPF_ADJ_ROOM_MAC),
 * growing and shrinking, with every flag the kernel takes (FIXED_GSO,
 * NO_CSUM_RESET, the ENCAP_L3, ENCAP_L4 and ENCAP_L2 ones, DECAP_L3) and
 * some it refuses, chosen per frame from its argument and priority, on
 * IPv4, IPv6, tagged and other frames: the length and protocol checks, an
 * encapsulation twice (-EALREADY) and bpf_skb_change_tail() after one, a
 * decapsulation that changes skb->protocol, the largest difference
 * (0xfff) there and back, and after bpf_skb_change_head().  The results,
 * and skb->protocol, come back as the mark and priority. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Newer than some <linux/bpf.h>. */
#define F_ENCAP_L2_ETH (1ULL << 6)
#define F_DECAP_L3_IPV4 (1ULL << 7)
#define F_DECAP_L3_IPV6 (1ULL << 8)
#define F_ENCAP_L2(LEN) ((__u64)(LEN) << 56)

SEC("tc")
int helper_adjust_room(struct __sk_buff *skb)
{
	__u32 sel = (skb->cb[1] ^ skb->priority) % 28;
	__u32 p = skb->mark;
	__s32 d = p % 64;
	__u32 len = skb->len;
	long r1 = 0, r2 = 0;

	switch (sel) {
	case 0:
		r1 = bpf_skb_adjust_room(skb, d, BPF_ADJ_ROOM_NET, 0);
		break;
	case 1:
		r1 = bpf_skb_adjust_room(skb, -d, BPF_ADJ_ROOM_NET, 0);
		break;
	case 2:
		r1 = bpf_skb_adjust_room(skb, d, BPF_ADJ_ROOM_MAC, 0);
		break;
	case 3:
		r1 = bpf_skb_adjust_room(skb, -d, BPF_ADJ_ROOM_MAC, 0);
		break;
	case 4:
		r1 = bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
					 BPF_F_ADJ_ROOM_ENCAP_L4_GRE);
		/* The transport header is set now: below it, -EINVAL; above,
		 * the encapsulation's -ENOTSUPP. */
		r2 = bpf_skb_change_tail(skb, 20 + p % 40, 0);
		break;
	case 5:
		r1 = bpf_skb_adjust_room(skb, 40 + d % 8, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
					 BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
					 F_ENCAP_L2_ETH | F_ENCAP_L2(14));
		r2 = skb->protocol;
		break;
	case 6:
		r1 = bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_NET,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
		r2 = bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_NET,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6);
		r2 = r2 * 1000 + skb->protocol;
		break;
	case 7:
		r1 = bpf_skb_adjust_room(skb, -d, BPF_ADJ_ROOM_MAC,
					 F_DECAP_L3_IPV6);
		r2 = skb->protocol;
		break;
	case 8:
		r1 = bpf_skb_adjust_room(skb, -d, BPF_ADJ_ROOM_NET,
					 F_DECAP_L3_IPV4);
		/* The base length follows the new protocol. */
		r2 = bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_NET, 0);
		r2 = r2 * 100000 + skb->protocol;
		break;
	case 9:
		r1 = bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_NET, 1ULL << 9);
		r2 = bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6);
		r2 = r2 * 1000 + bpf_skb_adjust_room(skb, 24, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
					 BPF_F_ADJ_ROOM_ENCAP_L4_GRE |
					 BPF_F_ADJ_ROOM_ENCAP_L4_UDP);
		break;
	case 10:
		r1 = bpf_skb_adjust_room(skb, 0x1000, BPF_ADJ_ROOM_MAC, 0);
		r2 = bpf_skb_adjust_room(skb, -0x1000, BPF_ADJ_ROOM_MAC, 0);
		r2 = r2 * 1000 + bpf_skb_adjust_room(skb, (__s32)0x80000000,
						     BPF_ADJ_ROOM_MAC, 0);
		break;
	case 11:
		r1 = bpf_skb_adjust_room(skb, 4, 2, 0);
		r2 = bpf_skb_adjust_room(skb, -4, 0xffffffff, F_DECAP_L3_IPV4);
		break;
	case 12:
		/* The largest difference, there and back. */
		r1 = bpf_skb_adjust_room(skb, 0xfff, BPF_ADJ_ROOM_MAC, 0);
		r2 = bpf_skb_adjust_room(skb, -0xfff, BPF_ADJ_ROOM_MAC, 0);
		break;
	case 13:
		r1 = bpf_skb_adjust_room(skb, d, p & 1, BPF_F_ADJ_ROOM_FIXED_GSO |
					 BPF_F_ADJ_ROOM_NO_CSUM_RESET);
		r2 = bpf_skb_adjust_room(skb, -d, p & 1, BPF_F_ADJ_ROOM_FIXED_GSO |
					 BPF_F_ADJ_ROOM_NO_CSUM_RESET);
		break;
	case 14:
		/* The MAC header grows by 4: both modes start 4 bytes later. */
		r1 = bpf_skb_change_head(skb, 4, 0);
		r2 = bpf_skb_adjust_room(skb, p & 2 ? d : -d, p & 1, 0);
		break;
	case 15:
		/* Shrinking an IPv6 packet to an IPv4 one in NET mode leaves
		 * fewer bytes than it pulls: -ENOMEM. */
		r1 = bpf_skb_adjust_room(skb, -(__s32)(len - 14 - 20 - d % 24),
					 BPF_ADJ_ROOM_NET, F_DECAP_L3_IPV4);
		r2 = skb->protocol;
		break;
	case 16:
		/* Shrink as far as the checks allow, and one more. */
		r1 = bpf_skb_adjust_room(skb, -(__s32)(len - 14 - 20 - (p & 1)),
					 p & 2 ? BPF_ADJ_ROOM_NET : BPF_ADJ_ROOM_MAC,
					 0);
		break;
	case 17:
		r1 = bpf_skb_adjust_room(skb, 0, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
		r2 = bpf_skb_change_tail(skb, len + 1, 0);
		break;
	case 18:
		/* ENCAP_L2 and L4 flags without an L3 one are no
		 * encapsulation. */
		r1 = bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_MAC,
					 F_ENCAP_L2_ETH | F_ENCAP_L2(4) |
					 BPF_F_ADJ_ROOM_ENCAP_L4_GRE |
					 BPF_F_ADJ_ROOM_ENCAP_L4_UDP);
		r2 = bpf_skb_change_tail(skb, len + 9, 0);
		break;
	case 19:
		/* An inner MAC header longer than the room, or shorter than
		 * Ethernet's with ENCAP_L2_ETH. */
		r1 = bpf_skb_adjust_room(skb, 10, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
					 F_ENCAP_L2(10 + (p & 1)));
		r2 = bpf_skb_adjust_room(skb, 30, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
					 F_ENCAP_L2_ETH | F_ENCAP_L2(13));
		break;
	case 20:
		/* Encapsulation flags on a shrink. */
		r1 = bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
		r2 = bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_MAC,
					 F_DECAP_L3_IPV4);
		break;
	case 21:
		r1 = bpf_skb_adjust_room(skb, -8, BPF_ADJ_ROOM_MAC,
					 F_DECAP_L3_IPV4 | F_DECAP_L3_IPV6);
		break;
	case 22: {
		/* Grow in MAC mode and write an outer header in the room. */
		__u8 hdr[4] = { 0x45, 0, 0, 0x14 };

		r1 = bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC, 0);
		if (!r1)
			r2 = bpf_skb_store_bytes(skb, 14, hdr, sizeof(hdr), 0);
		break;
	}
	case 23:
		/* The encapsulation's transport header moves with later
		 * shrinks: past the network header, the minimum length falls
		 * below 0 (u32: nothing is long enough). */
		r1 = bpf_skb_adjust_room(skb, 20, BPF_ADJ_ROOM_MAC,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
					 BPF_F_ADJ_ROOM_ENCAP_L4_UDP);
		r2 = bpf_skb_adjust_room(skb, -(20 + d % 24), BPF_ADJ_ROOM_MAC, 0);
		r2 = r2 * 1000 + bpf_skb_change_tail(skb, 14 + p % 40, 0);
		break;
	case 24:
		r1 = bpf_skb_adjust_room(skb, 4 + d, BPF_ADJ_ROOM_NET,
					 BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
					 BPF_F_ADJ_ROOM_ENCAP_L4_GRE);
		r2 = bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_NET, 0);
		r2 = r2 * 1000 + bpf_skb_change_tail(skb, 54 + p % 20, 0);
		break;
	case 25:
		/* Bits above 32 of the difference and the mode go. */
		r1 = bpf_skb_adjust_room(skb, (1ULL << 32) | 4,
					 (1ULL << 32) | BPF_ADJ_ROOM_MAC, 0);
		break;
	default:
		/* Differences around the limit, 0xfff: growing stays within
		 * what the kernel's test run has room for. */
		r1 = bpf_skb_adjust_room(skb, p & 0x100 ? 0x1000 + (p & 0xff)
					 : -(__s32)(p % 0x1010), (p >> 13) & 1, 0);
		break;
	}
	skb->mark = (__u32)r1;
	skb->priority = (__u32)r2;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
