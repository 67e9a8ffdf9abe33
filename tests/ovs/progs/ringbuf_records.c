// SPDX-License-Identifier: GPL-2.0
/* A ring buffer written with all four helpers, small enough to fill: no
 * reader takes the records, so after some frames a reservation or an
 * output fails, and the failures show in the mark.  The records, the
 * failures and where they begin must be the kernel's. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

/* Records of 504 bytes, 512 with their header: the 8th would fill the ring
 * to the last byte, which the kernel never does (it keeps the producer
 * less than the ring's size ahead), so it fails. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[504]);
} blob SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} failed SEC(".maps");

struct event {
	__u32 len;
	__u32 arg;
	__u8 head[20];
};

static void count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&failed, &what);

	if (n)
		*n += 1;
}

SEC("tc")
int ringbuf_records(struct __sk_buff *skb)
{
	__u8 buf[44] = {};
	struct event *e;
	long err;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(0);
		skb->mark = 1;
	} else {
		e->len = skb->len;
		e->arg = skb->cb[1];
		if (bpf_skb_load_bytes(skb, 0, e->head, sizeof(e->head)))
			__builtin_memset(e->head, 0xee, sizeof(e->head));
		/* Frames from even source MACs are kept, the others discarded. */
		if (e->head[11] & 1)
			bpf_ringbuf_discard(e, 0);
		else
			bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}

	/* An output of a length the frame decides: 1 to 32 bytes. */
	bpf_skb_load_bytes(skb, 0, buf, 14);
	err = bpf_ringbuf_output(&events, buf, 1 + (skb->len & 31), 0);
	if (err) {
		count(1);
		skb->priority = -err;
	}
	/* Flags it does not take, and a reservation larger than the ring. */
	if (bpf_ringbuf_output(&events, buf, 4, 4) != -22)
		count(2);
	e = bpf_ringbuf_reserve(&events, 8192, 0);
	if (e) {
		count(3);
		bpf_ringbuf_discard(e, 0);
	}

	__u32 zero = 0;
	__u8 *big = bpf_map_lookup_elem(&blob, &zero);
	if (big) {
		big[0] = (__u8)skb->len;
		if (bpf_ringbuf_output(&exact, big, 504, 0))
			count(4);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
