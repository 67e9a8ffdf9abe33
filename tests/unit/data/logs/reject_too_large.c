/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture: over the verifier's 1,000,000-instruction limit. The loop's
 * counter differs on every turn, so no state is ever pruned and the
 * verifier walks all of its turns. */
#include "extframe.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int reject_too_large(struct __sk_buff *skb)
{
	__u32 seen = 0;

	for (__u32 i = 0; i < 400000; i++) {
		if (skb->len > i) {
			seen++;
		}
	}
	return seen ? TC_ACT_OK : TC_ACT_SHOT;
}
