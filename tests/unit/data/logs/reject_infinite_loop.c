/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: a loop that never changes its state; the verifier calls it an
 * infinite loop. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int reject_infinite_loop(struct __sk_buff *skb)
{
	volatile __u32 spin = skb->len;

	while (spin) {
		asm volatile("" ::: "memory");
	}
	return TC_ACT_OK;
}
