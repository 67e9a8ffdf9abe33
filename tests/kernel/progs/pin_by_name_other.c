/* SPDX-License-Identifier: GPL-2.0-only */
/* The same map name as pin_by_name.c with another definition (a 4-byte
 * value): libbpf would refuse to reuse the other one's pinned map. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, 0);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} extframe_pinned_counter SEC(".maps");

SEC("tc") int pin_by_name_other(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u32 *count = bpf_map_lookup_elem(&extframe_pinned_counter, &key);

	if (count) {
		__sync_fetch_and_add(count, 1);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
