/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * heavy_hitter - find the IPv4 and IPv6 sources that send the most bytes,
 * with a count-min sketch (Cormode and Muthukrishnan, 2005), and list
 * those above a threshold.
 *
 * Each IP packet adds its length to one counter in each of the sketch's 4
 * rows, chosen by that row's hash of the source address; the source's
 * estimate is the smallest of its 4 counters.  Collisions only add, so the
 * estimate is never below the true byte count and is above it only when
 * another source shares the counter in every row.  When the estimate
 * reaches the threshold, the source is recorded in, or refreshed in, the
 * top map.  The sketch never decays: it counts since the action was loaded,
 * and the operator who wants windows zeroes hh_sketch and hh_top.
 *
 * Sources are 16-byte IPv6 addresses; an IPv4 source a.b.c.d is counted as
 * its IPv4-mapped address ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so one key
 * type serves both and an IPv6 packet from ::ffff:a.b.c.d is counted with
 * IPv4 a.b.c.d.
 *
 * Hash (row r, seed hh_seeds[r]): the address as four 32-bit words in
 * network byte order, w0..w3 (IPv4: 0, 0, 0x0000ffff, the address);
 *   h = seed; for each w: h = (h ^ w) * 0x9e3779b1; h ^= h >> 16;
 *   then murmur3's finalizer: h ^= h >> 16; h *= 0x85ebca6b;
 *   h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
 *   column = h & (HH_WIDTH - 1), index = r * HH_WIDTH + column.
 * All arithmetic is modulo 2^32.
 *
 * Map hh_sketch (BPF_MAP_TYPE_ARRAY, 4 x 1024 = 4096 entries), kept by
 * the action:
 *   key    __u32 index = row * 1024 + column, host byte order
 *   value  __u64 bytes (skb->len: the whole frame, Ethernet header and
 *          VLAN tags included), host order, added atomically
 * Map hh_config (BPF_MAP_TYPE_ARRAY, 1 entry), filled by the operator:
 *   key    __u32 0
 *   value  __u64 threshold in bytes, host order; 0 (unconfigured) means
 *          HH_DEFAULT_THRESHOLD (1 MiB)
 * Map hh_top (BPF_MAP_TYPE_LRU_HASH, up to 1024 sources), kept by the
 * action:
 *   key    struct in6_addr source (IPv4-mapped for IPv4), network order
 *   value  struct hh_entry { __u64 estimate_bytes; __u64 last_seen_ns; }
 *          host order; the estimate after the source's latest packet, and
 *          bpf_ktime_get_ns() (CLOCK_MONOTONIC) of that packet
 *   LRU: when full, the source seen least recently makes room.  Two CPUs
 *   refreshing the same source may leave the smaller of their estimates
 *   until its next packet.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict (always continue; the packet never changes):
 *   IPv4 or IPv6 packet, estimate < threshold      counted
 *   IPv4 or IPv6 packet, estimate >= threshold     counted, hh_top[src]
 *                                                  = {estimate, now}
 *   IPv4 with options, IPv6 with extension         as above (only the
 *   headers, VLAN/QinQ tagged, first or later      fixed IP header is
 *   fragments, any L4 or a truncated one           read)
 *   not IP (ARP, 3 VLAN tags, ...), IP header      not counted
 *   truncated or malformed (ihl < 5, wrong
 *   version)
 *
 * Effects: reads the packet, writes maps only: read_only.
 */
#include "extframe.h"

/* Sketch rows (independent hashes) and counters per row.  The width is a
 * power of two so that a mask picks the column. */
#define HH_DEPTH 4
#define HH_WIDTH 1024
/* Threshold when hh_config holds 0. */
#define HH_DEFAULT_THRESHOLD (1ULL << 20)

struct hh_entry {
	__u64 estimate_bytes;
	__u64 last_seen_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, HH_DEPTH * HH_WIDTH);
} hh_sketch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} hh_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct in6_addr);
	__type(value, struct hh_entry);
	__uint(max_entries, 1024);
} hh_top SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* One seed per row: the first hexadecimal digits of pi, as in Blowfish,
 * so that nobody chose them to make two addresses collide. */
static const __u32 hh_seeds[HH_DEPTH] = {
	0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344,
};

/* Mixes the four address words into a 32-bit hash under 'seed': a
 * multiply-xorshift step per word, then murmur3's finalizer so that every
 * input bit reaches the low bits the column is taken from. */
static __always_inline __u32
hh_hash(__u32 seed, const __u32 words[4])
{
	__u32 h = seed;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		h = (h ^ words[i]) * 0x9e3779b1;
		h ^= h >> 16;
	}
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Adds 'len' bytes to the source's counter in every row and returns the
 * new estimate: the smallest counter after the additions. */
static __always_inline __u64
hh_count(const __u32 words[4], __u64 len)
{
	__u64 estimate = ~0ULL;
	int r;

#pragma unroll
	for (r = 0; r < HH_DEPTH; r++) {
		__u32 index = r * HH_WIDTH
			      + (hh_hash(hh_seeds[r], words) & (HH_WIDTH - 1));
		__u64 *counter = bpf_map_lookup_elem(&hh_sketch, &index);
		__u64 count;

		if (!counter) {
			continue;
		}
		count = __sync_fetch_and_add(counter, len) + len;
		if (count < estimate) {
			estimate = count;
		}
	}
	return estimate;
}

/* The configured threshold in bytes, or the default. */
static __always_inline __u64
hh_threshold(void)
{
	__u32 zero = 0;
	__u64 *threshold = bpf_map_lookup_elem(&hh_config, &zero);

	if (!threshold || !*threshold) {
		return HH_DEFAULT_THRESHOLD;
	}
	return *threshold;
}

/* Records 'src' in hh_top with its estimate and the time, or refreshes
 * its entry. */
static __always_inline void
hh_record(const struct in6_addr *src, __u64 estimate)
{
	struct hh_entry *entry = bpf_map_lookup_elem(&hh_top, src);
	__u64 now = bpf_ktime_get_ns();

	if (entry) {
		entry->estimate_bytes = estimate;
		entry->last_seen_ns = now;
	} else {
		struct hh_entry init = {
			.estimate_bytes = estimate,
			.last_seen_ns = now,
		};

		bpf_map_update_elem(&hh_top, src, &init, BPF_ANY);
	}
}

/* Entry point: counts the bytes of every IP packet by source and records
 * the sources whose estimate reaches the threshold. */
SEC("tc")
int
heavy_hitter(struct __sk_buff *skb)
{
	struct extframe_hdrs h;
	struct in6_addr src;
	__u32 words[4];
	__u64 estimate;
	int i;

	if (extframe_parse_l2_l4(skb, &h) < 0) {
		return EXTFRAME_CONTINUE;
	}
	if (h.ip) {
		src.in6_u.u6_addr32[0] = 0;
		src.in6_u.u6_addr32[1] = 0;
		src.in6_u.u6_addr32[2] = bpf_htonl(0x0000ffff);
		src.in6_u.u6_addr32[3] = h.ip->saddr;
	} else if (h.ip6) {
		__builtin_memcpy(&src, &h.ip6->saddr, sizeof src);
	} else {
		return EXTFRAME_CONTINUE;
	}

#pragma unroll
	for (i = 0; i < 4; i++) {
		words[i] = bpf_ntohl(src.in6_u.u6_addr32[i]);
	}
	estimate = hh_count(words, skb->len);
	if (estimate >= hh_threshold()) {
		hh_record(&src, estimate);
	}
	return EXTFRAME_CONTINUE;
}
