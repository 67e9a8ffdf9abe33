/* SPDX-License-Identifier: GPL-2.0-only */
/* Maps that ask libbpf to pin them by name (LIBBPF_PIN_BY_NAME), as many
 * public XDP projects do; loading must not pin them under /sys/fs/bpf. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} extframe_pinned_counter SEC(".maps");

SEC("tc") int pin_by_name(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&extframe_pinned_counter, &key);

	if (count) {
		__sync_fetch_and_add(count, 1);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
