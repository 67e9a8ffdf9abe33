/* Two programs sharing one map; the second sets the mark from the map. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} shared_cfg SEC(".maps");

SEC("tc") int count_first(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u32 *v = bpf_map_lookup_elem(&shared_cfg, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}

SEC("tc") int mark_second(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u32 *v = bpf_map_lookup_elem(&shared_cfg, &k);
	if (v)
		skb->mark = *v;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
