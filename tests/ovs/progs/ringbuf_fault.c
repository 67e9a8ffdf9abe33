// SPDX-License-Identifier: GPL-2.0
/* A ring buffer record reserved before a helper that cannot run in-process
 * on the frame (bpf_skb_adjust_room() in NET mode on a frame shorter than
 * its IP header, whose missing bytes the kernel would read from its buffer):
 * the run goes on and releases the record, as the verifier made sure it
 * does, and only then fails; no record is left reserved, which would stop
 * every later record from being read. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} after SEC(".maps");

SEC("tc")
int ringbuf_fault(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n;
	__u32 *e = bpf_ringbuf_reserve(&events, 8, 0);

	if (!e)
		return TC_ACT_OK;
	*e = skb->len;
	if (skb->cb[1] & 1)
		bpf_skb_adjust_room(skb, 8, BPF_ADJ_ROOM_NET, 0);
	bpf_ringbuf_submit(e, 0);
	n = bpf_map_lookup_elem(&after, &zero);
	if (n)
		*n += 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
