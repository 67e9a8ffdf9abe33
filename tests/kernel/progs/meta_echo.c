/* Echoes the metadata the datapath passes in, so tests can see it arrive:
 * mark = in_port | arg << 16, priority = priority + 1. */
#include "extframe.h"

SEC("tc") int meta_echo(struct __sk_buff *skb)
{
	extframe_set_mark(skb, extframe_in_port(skb) | extframe_arg(skb) << 16);
	extframe_set_priority(skb, extframe_priority(skb) + 1);
	return EXTFRAME_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
