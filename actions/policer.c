/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policer - token-bucket policer per OVS input port.
 *
 * Each configured port has a bucket of burst_bytes that refills at
 * rate_bytes_per_sec.  A packet of skb->len bytes passes and takes its
 * length out of the bucket when that many tokens are there; otherwise it is
 * dropped and takes nothing.  A new bucket starts full.
 *
 * Map policer_config (BPF_MAP_TYPE_HASH, up to 1024 ports), filled by the
 * operator:
 *   key    __u32 OVS input port (extframe_in_port(), cb[0])
 *   value  struct policer_config, 16 bytes, host byte order:
 *            __u64 rate_bytes_per_sec   refill rate; 0 drops every packet
 *            __u32 burst_bytes          bucket size; 0 drops every packet
 *            __u32 reserved             0
 * Map policer_state (BPF_MAP_TYPE_HASH, up to 1024 ports), kept by the
 * action; an entry is created on a configured port's first packet:
 *   key    __u32 OVS input port
 *   value  struct policer_state, 8 bytes, host byte order:
 *            __u64 full_at_ns   bpf_ktime_get_ns() time at which the bucket
 *                               is full again if no packet passes; any time
 *                               in the past (0 too) means full
 * Changing a port's rate or burst takes effect on its next packet (the
 * refill time still missing is kept, so the tokens missing scale with the
 * rate); deleting its state entry refills its bucket.
 *
 * The bucket as a time (the "virtual scheduling" form of GCRA, ITU-T
 * I.371): with rate r, the tokens at time now are
 *   tokens = burst - (full_at_ns - now) * r / 1e9   (burst when in the past)
 * so the pair {tokens, last refill time} is one 64-bit word and a packet is
 * admitted with one compare-and-swap, without a lock.  A bpf_spin_lock
 * around a two-word state would do too, but bpf_spin_lock/unlock are not in
 * the analyzer's helper table (analyzer/helpers.py), so "extframe check"
 * would answer unknown instead of read_only.  The form also needs no
 * "elapsed_ns * rate" product: a long idle time cannot overflow, and no
 * fraction of a token is lost between two close packets.
 *
 * Units: a packet costs ceil(len * 1e9 / rate) ns of refill time and the
 * bucket holds ceil(burst * 1e9 / rate) ns.  Rounding both up keeps every
 * packet's cost at 1 ns or more and a packet of burst_bytes admissible at
 * any rate; with 32-bit lengths and bursts neither product overflows.  In
 * bytes, each of the two may be off by less than rate / 1e9, which matters
 * only above 1e9 bytes/s; a packet longer than burst_bytes is refused
 * exactly, before any rounding.
 *
 * Argument: none (cb[1] is ignored).
 *
 * Verdict:
 *   port not in policer_config                   continue, unpoliced, no
 *                                                state created
 *   configured port, len <= tokens               continue, tokens -= len
 *   configured port, len > tokens                drop, tokens unchanged
 *   len > burst_bytes, burst 0 or rate 0         drop
 *   policer_state full, no entry for the port    continue, unpoliced
 *   POLICER_CAS_TRIES compare-and-swaps all      drop (each one lost to a
 *   lost to other CPUs                           packet that passed)
 * Every packet counts by skb->len, whatever its headers: non-IP, VLAN
 * tagged, fragments, truncated frames alike; the headers are not parsed.
 *
 * Effects: reads metadata only, writes maps only: read_only.
 */
#include "extframe.h"

#define NSEC_PER_SEC 1000000000ULL

/* Compare-and-swap attempts before giving up on a contended bucket. */
#define POLICER_CAS_TRIES 8

struct policer_config {
	__u64 rate_bytes_per_sec;
	__u32 burst_bytes;
	__u32 reserved;
};

struct policer_state {
	__u64 full_at_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct policer_config);
	__uint(max_entries, 1024);
} policer_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct policer_state);
	__uint(max_entries, 1024);
} policer_state SEC(".maps");

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

/* Returns the port's bucket, inserting a full one (full_at_ns 0) when it
 * has none yet; NULL when policer_state is full.  Losing the insert to
 * another CPU (-EEXIST) is fine: the lookup after it finds that entry. */
static __always_inline struct policer_state *
get_state(__u32 port)
{
	struct policer_state full = { .full_at_ns = 0 };
	struct policer_state *state;

	state = bpf_map_lookup_elem(&policer_state, &port);
	if (state) {
		return state;
	}
	bpf_map_update_elem(&policer_state, &port, &full, BPF_NOEXIST);
	return bpf_map_lookup_elem(&policer_state, &port);
}

/* Returns the refill time of 'size' bytes at 'rate' bytes/s, rounded up.
 * size < 2^32, so size * 1e9 < 2^62 does not overflow. */
static __always_inline __u64
refill_ns(__u32 size, __u64 rate)
{
	__u64 scaled = (__u64)size * NSEC_PER_SEC;
	__u64 ns = scaled / rate;

	if (scaled % rate) {
		ns++;
	}
	return ns;
}

/* Entry point: admits the packet against its input port's bucket. */
SEC("tc")
int
policer(struct __sk_buff *skb)
{
	__u32 port = extframe_in_port(skb);
	struct policer_config *config;
	struct policer_state *state;
	__u64 burst_ns, need_ns, now;
	__u64 rate;
	int i;

	config = bpf_map_lookup_elem(&policer_config, &port);
	if (!config) {
		return EXTFRAME_CONTINUE;
	}
	rate = config->rate_bytes_per_sec;
	/* Exact in bytes, whatever the rounding to ns below does. */
	if (!rate || skb->len > config->burst_bytes) {
		return EXTFRAME_DROP;
	}
	burst_ns = refill_ns(config->burst_bytes, rate);
	need_ns = refill_ns(skb->len, rate);
	/* Implied by len <= burst; it keeps burst_ns - need_ns from
	 * wrapping should the rounding ever change. */
	if (need_ns > burst_ns) {
		return EXTFRAME_DROP;
	}
	state = get_state(port);
	if (!state) {
		return EXTFRAME_CONTINUE;
	}
	now = bpf_ktime_get_ns();

	/* The time still to wait for a full bucket (the tokens missing) may
	 * grow by need_ns up to burst_ns (an empty bucket).  Only a packet
	 * that passes writes the word; a failed swap means another packet
	 * passed in between, so read it again. */
	for (i = 0; i < POLICER_CAS_TRIES; i++) {
		__u64 full_at = *(volatile __u64 *)&state->full_at_ns;
		__u64 missing_ns = full_at > now ? full_at - now : 0;

		if (missing_ns > burst_ns - need_ns) {
			return EXTFRAME_DROP;
		}
		if (__sync_val_compare_and_swap(&state->full_at_ns, full_at,
						now + missing_ns + need_ns)
		    == full_at) {
			return EXTFRAME_CONTINUE;
		}
	}
	return EXTFRAME_DROP;
}
