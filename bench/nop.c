/*
 * The action-cost benchmark's control (bench/datapath.py, CONTROL): a
 * program that does nothing but let the packet go on.  What it adds to a
 * packet inside the switch is what running any action costs besides its
 * program: the datapath action, the executor's entry and exit, the context.
 */
#include "extframe.h"

EXTFRAME_EFFECTS(read_only);

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int
nop(struct __sk_buff *skb)
{
	return EXTFRAME_CONTINUE;
}
