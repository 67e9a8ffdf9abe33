// SPDX-License-Identifier: GPL-2.0
/* Per-CPU maps of the three kinds the switch keeps: a program's update
 * writes its own CPU's value (a new element's other values are zero), and
 * the count it reads back decides the verdict, so a run that read another
 * CPU's value, or all of them summed, would differ from the kernel's. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} by_len SEC(".maps");

struct counts {
	__u32 frames;
	__u32 bytes;
	__u16 first;		/* the length of the first frame, as the update saw it */
	__u16 pad;		/* set: the kernel copies padding from the stack as it is */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u8);
	__type(value, struct counts);
} by_mac SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 256);	/* 8 keys: the kernel evicts by approximation, well before full */
	__type(key, __u32);
	__type(value, __u32);
} recent SEC(".maps");

SEC("tc")
int percpu_maps(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 len = skb->len, slot = len % 8, seen = 1;
	struct counts fresh = { 1, len, (__u16)len, 0 }, *c;
	__u64 *n;
	__u8 mac;

	if (data + 14 > end)
		return TC_ACT_OK;
	mac = ((__u8 *)data)[11] & 0x1f;	/* 32 keys into 16 entries: some updates fail */

	n = bpf_map_lookup_elem(&by_len, &slot);
	if (n)
		*n += len;
	c = bpf_map_lookup_elem(&by_mac, &mac);
	if (c) {
		c->frames++;
		c->bytes += len;
	} else if (bpf_map_update_elem(&by_mac, &mac, &fresh, BPF_NOEXIST)) {
		skb->mark = 0xf011;	/* the hash is full */
	}
	/* A second NOEXIST update of a key fails; EXIST overwrites this CPU's value. */
	if (bpf_map_update_elem(&by_mac, &mac, &fresh, BPF_NOEXIST) == 0)
		skb->mark = 0xbad;
	if ((len & 3) == 0)
		bpf_map_update_elem(&by_mac, &mac, &fresh, BPF_EXIST);

	__u32 *r = bpf_map_lookup_elem(&recent, &slot);
	if (r)
		seen = *r + 1;
	bpf_map_update_elem(&recent, &slot, &seen, BPF_ANY);
	skb->priority = seen;
	if (n && *n % 3 == 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
