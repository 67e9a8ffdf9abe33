/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * syn_guard - drop TCP SYNs to a destination beyond a limit per second.
 *
 * A SYN is a TCP segment with SYN set and ACK clear (connection requests;
 * SYN-ACK replies are not counted).  Each destination address counts its
 * SYNs in one-second windows: a window opens at the first SYN that finds
 * none open and lasts 1000 ms of bpf_ktime_get_ns(); a SYN that makes the
 * count of its window exceed the limit is dropped.  Dropped SYNs are counted
 * too, so the count is the rate offered.  Back-to-back windows let up to
 * twice the limit through within one second across their boundary.
 *
 * Limit: the argument, bpf(syn_guard,arg=N), when N is not 0; otherwise
 * syn_guard_config[0].syn_limit.  The argument wins so that one flow can
 * give a server a limit of its own, tighter or looser than the rest.  When both are 0 the guard is
 * off: every SYN continues and nothing is counted.
 *
 * Map syn_guard_config (BPF_MAP_TYPE_ARRAY, 1 entry), filled by the
 * operator:
 *   key    __u32 0
 *   value  struct syn_guard_config { __u32 syn_limit; }, host byte order:
 *          SYNs per destination per second that pass; 0 = no limit here
 * Map syn_guard_windows (BPF_MAP_TYPE_LRU_HASH, 65536 destinations), kept
 * by the action; under a flood of destinations the least recently used are
 * forgotten, which only restarts their windows:
 *   key    struct syn_guard_key { __u8 dst_addr[16]; }: the IPv6
 *          destination, or ::ffff:a.b.c.d for an IPv4 one (RFC 4291
 *          2.5.5.2), network byte order.  An IPv6 packet to an
 *          IPv4-mapped address shares the window of that IPv4 address.
 *   value  struct syn_guard_window, 8 bytes, host byte order:
 *            __u32 start_ms   when the window opened: ktime / 1e6, the
 *                             low 32 bits (it wraps every 49.7 days; a
 *                             window idle for a multiple of that, to the
 *                             second, looks open: a negligible chance)
 *            __u32 syns       SYNs in it, saturating at 2^32 - 1
 *          Both live in one 64-bit word updated by compare-and-swap, so a
 *          new window and its first SYN are written at once and no count is
 *          lost between CPUs, without a bpf_spin_lock (which the analyzer's
 *          helper table does not know: "extframe check" would say unknown).
 *
 * Verdict:
 *   TCP SYN (no ACK), count <= limit               continue, counted
 *   TCP SYN (no ACK), count > limit                drop, counted
 *   TCP without SYN, or SYN with ACK               continue, not counted
 *   UDP, ICMP, other protocols, not IP             continue, not counted
 *   limit 0 (no argument, config 0)                continue, not counted
 *   first fragment (MF, offset 0) with the flags   as a whole packet
 *   TCP header cut after the flags byte (at least  as a whole packet: after
 *   14 bytes) or doff < 5                          reassembly a tiny first
 *                                                  fragment still opens a
 *                                                  connection (RFC 1858)
 *   TCP header cut before the flags byte           continue, not counted
 *   later IPv4/IPv6 fragment (no TCP header)       continue, not counted:
 *                                                  the flags are not in it
 *   IP header truncated or malformed               continue, not counted
 *   IPv6 extension headers truncated or more than  continue, not counted
 *   EXTFRAME_IPV6_EXT_MAX (4)
 *   behind one or two VLAN tags                    as untagged
 *   all SYN_GUARD_CAS_TRIES (8) swaps lost to      decided on the count it
 *   other CPUs counting the same destination       would make; not counted
 * Tiny fragments that split the TCP flags off the first fragment
 * (RFC 1858) are not caught here: drop them in front of this action.
 *
 * Effects: reads the packet, writes maps only: read_only.
 */
#include "extframe.h"

#define NSEC_PER_MSEC 1000000ULL

/* Length of a window. */
#define SYN_GUARD_WINDOW_MS 1000

/* Offset of the flags byte (CWR ECE URG ACK PSH RST SYN FIN) in TCP. */
#define SYN_GUARD_TCP_FLAGS_OFFSET 13
#define SYN_GUARD_TCP_SYN 0x02
#define SYN_GUARD_TCP_ACK 0x10

/* IPv4-mapped IPv6 prefix ::ffff:0:0/96: bytes 10 and 11 are 0xff. */
#define SYN_GUARD_V4MAPPED_FF 10

/* Compare-and-swap attempts before deciding on the count last seen. */
#define SYN_GUARD_CAS_TRIES 8

struct syn_guard_config {
	__u32 syn_limit;
};

struct syn_guard_key {
	__u8 dst_addr[16];
};

struct syn_guard_window {
	__u32 start_ms;
	__u32 syns;
} __attribute__((aligned(8)));

/* A window as the one word that compare-and-swap reads and writes. */
union syn_guard_word {
	struct syn_guard_window window;
	__u64 word;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct syn_guard_config);
	__uint(max_entries, 1);
} syn_guard_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct syn_guard_key);
	__type(value, struct syn_guard_window);
	__uint(max_entries, 65536);
} syn_guard_windows SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* Returns nonzero when the packet is a TCP SYN without ACK whose flags byte
 * is in the frame: from the parsed TCP header, or, when the header is cut
 * short or has doff < 5, from the bytes at the L4 cursor.  Later fragments
 * have no TCP header and never qualify. */
static __always_inline int
is_syn(const struct extframe_hdrs *h)
{
	__u8 *l4;
	__u8 flags;

	if (h->ip_proto != IPPROTO_TCP || h->frag_later) {
		return 0;
	}
	/* extframe_parse_tcp() leaves the cursor at the L4 header when it
	 * refuses it. */
	l4 = h->tcp ? (__u8 *)h->tcp : (__u8 *)h->cur.pos;
	if ((void *)(l4 + SYN_GUARD_TCP_FLAGS_OFFSET + 1) > h->cur.end) {
		return 0;
	}
	flags = l4[SYN_GUARD_TCP_FLAGS_OFFSET];
	return (flags & (SYN_GUARD_TCP_SYN | SYN_GUARD_TCP_ACK))
	       == SYN_GUARD_TCP_SYN;
}

/* Returns the SYN limit: the argument when not 0, else the config map's;
 * 0 means the guard is off. */
static __always_inline __u32
syn_limit(const struct __sk_buff *skb)
{
	struct syn_guard_config *config;
	__u32 arg = extframe_arg(skb);
	__u32 zero = 0;

	if (arg) {
		return arg;
	}
	config = bpf_map_lookup_elem(&syn_guard_config, &zero);
	return config ? config->syn_limit : 0;
}

/* Fills the key with the destination address of the IP header in 'h'. */
static __always_inline void
fill_key(struct syn_guard_key *key, const struct extframe_hdrs *h)
{
	__builtin_memset(key, 0, sizeof(*key));
	if (h->ip) {
		key->dst_addr[SYN_GUARD_V4MAPPED_FF] = 0xff;
		key->dst_addr[SYN_GUARD_V4MAPPED_FF + 1] = 0xff;
		__builtin_memcpy(&key->dst_addr[12], &h->ip->daddr, 4);
	} else if (h->ip6) {
		__builtin_memcpy(key->dst_addr, &h->ip6->daddr, 16);
	}
}

/* Returns the destination's window, inserting an empty one when it has
 * none; NULL only if the insert fails.  Losing the insert to another CPU
 * (-EEXIST) is fine: the lookup after it finds that entry. */
static __always_inline struct syn_guard_window *
get_window(const struct syn_guard_key *key)
{
	struct syn_guard_window empty = { .start_ms = 0, .syns = 0 };
	struct syn_guard_window *window;

	window = bpf_map_lookup_elem(&syn_guard_windows, key);
	if (window) {
		return window;
	}
	bpf_map_update_elem(&syn_guard_windows, key, &empty, BPF_NOEXIST);
	return bpf_map_lookup_elem(&syn_guard_windows, key);
}

/* Returns nonzero when a window that opened at 'start_ms' is still open
 * at 'now_ms'.  Another CPU may have opened it a little after this one read
 * the clock, so a start slightly ahead of now counts as open too. */
static __always_inline int
window_open(__u32 start_ms, __u32 now_ms)
{
	__s32 age_ms = (__s32)(now_ms - start_ms);

	return age_ms > -SYN_GUARD_WINDOW_MS && age_ms < SYN_GUARD_WINDOW_MS;
}

/* Counts one SYN at 'now_ms' and returns the window's count with it: the
 * open window goes on, or a new one opens at 1.  If every swap is lost,
 * returns the count this SYN would have made. */
static __always_inline __u32
count_syn(struct syn_guard_window *window, __u32 now_ms)
{
	union syn_guard_word old, new;
	int i;

	new.window.syns = 0;
#pragma unroll
	for (i = 0; i < SYN_GUARD_CAS_TRIES; i++) {
		old.word = *(volatile __u64 *)window;
		new.word = old.word;
		if (!old.window.syns
		    || !window_open(old.window.start_ms, now_ms)) {
			new.window.start_ms = now_ms;
			new.window.syns = 1;
		} else if (old.window.syns != (__u32)-1) {
			new.window.syns++;
		}
		if (__sync_val_compare_and_swap((__u64 *)window, old.word,
						new.word) == old.word) {
			break;
		}
	}
	return new.window.syns;
}

/* Entry point: counts a SYN against its destination and drops it beyond
 * the limit. */
SEC("tc")
int
syn_guard(struct __sk_buff *skb)
{
	struct syn_guard_window *window;
	struct syn_guard_key key;
	struct extframe_hdrs h;
	__u32 limit;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !is_syn(&h)) {
		return EXTFRAME_CONTINUE;
	}
	limit = syn_limit(skb);
	if (!limit) {
		return EXTFRAME_CONTINUE;
	}
	fill_key(&key, &h);
	window = get_window(&key);
	if (!window) {
		return EXTFRAME_CONTINUE;
	}
	if (count_syn(window, bpf_ktime_get_ns() / NSEC_PER_MSEC) > limit) {
		return EXTFRAME_DROP;
	}
	return EXTFRAME_CONTINUE;
}
