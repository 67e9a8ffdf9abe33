/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sneaky_ksym - the address of an untyped __ksym is written into the
 * instruction by libbpf at load time; it is not the 0 in the object file.
 * Effect: writes meta.mark.
 */
#include "extframe.h"
extern const void _text __attribute__((section(".ksyms")));
SEC("tc")
int sneaky_ksym(struct __sk_buff *skb)
{
	unsigned long a = (unsigned long)&_text;
	if (a > 5)
		skb->mark = 7;
	return EXTFRAME_CONTINUE;
}
char LICENSE[] SEC("license") = "GPL";
