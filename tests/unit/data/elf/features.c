/* Fixture: the common shapes of a BPF object (README.md has the list).
 *
 * Two programs share section "tc" and a third has section "xdp"; all three
 * call the static subprogram mix() in .text, second() also calls the global
 * function global_len(), which the kernel verifies on its own.  The kfunc
 * externs only need to compile: this object is read, never loaded.
 */
#include "extframe.h"

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct flow_stats);
	__uint(max_entries, 1024);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} slots SEC(".maps");

volatile const __u32 threshold = 100;
__u64 seen;

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

EXTFRAME_EFFECTS(writes("meta.mark"));

char LICENSE[] SEC("license") = "GPL";

static __noinline __u32
mix(__u32 a, __u32 b)
{
	return a * 31 + b;
}

__noinline int
global_len(struct __sk_buff *skb)
{
	if (!skb)
		return 0;
	return skb->len + mix(skb->len, 7);
}

SEC("tc")
int
first(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct flow_stats *st = bpf_map_lookup_elem(&flows, &k);

	if (st)
		st->packets++;
	seen++;
	return mix(skb->mark, threshold) > 5 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int
second(struct __sk_buff *skb)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&slots, &k);

	bpf_rcu_read_lock();
	if (v)
		skb->mark = *v;
	bpf_rcu_read_unlock();
	return global_len(skb) > 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("xdp")
int
third(struct xdp_md *ctx)
{
	return mix(ctx->ingress_ifindex, 3) ? XDP_PASS : XDP_DROP;
}
