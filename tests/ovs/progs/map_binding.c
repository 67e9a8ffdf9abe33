// SPDX-License-Identifier: GPL-2.0
/* Two maps of one definition and two globals side by side in .data: the
 * program tag zeroes both immediates of every map reference, so only the
 * kernel's translated program says which map, and which offset in a map
 * value, each reference was verified with. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} first SEC(".maps"), second SEC(".maps");

__u32 low = 1;
__u32 high = 7;

SEC("tc")
int map_binding(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *a = bpf_map_lookup_elem(&first, &zero);
	__u64 *b = bpf_map_lookup_elem(&second, &zero);

	if (a)
		*a += 1;
	if (b)
		*b += skb->len;
	skb->mark = high;
	low += 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
