/*
 * A predicate for `extframe mirror --predicate`: capture IPv4 packets whose
 * TTL is 1 or 0, the ones the next router drops (traceroute probes, loops).
 *
 *   extframe mirror --predicate docs/examples/mirror_low_ttl.c -w ttl.pcap
 *
 * A predicate is included into the generated mirror action after
 * extframe.h, so the ABI's parsers are at hand.  It reads the packet and
 * returns nonzero to capture; like the rest of the mirror it must be proved
 * read-only, or the mirror refuses to start and names the line that writes.
 */
static __always_inline int
extframe_mirror_match(struct __sk_buff *skb)
{
	struct extframe_cursor cur;
	struct iphdr *iph;
	__u16 eth_type;

	extframe_cursor_init(&cur, skb);
	if (!extframe_parse_eth(&cur, &eth_type) || eth_type != ETH_P_IP)
		return 0;
	iph = extframe_parse_ipv4(&cur);
	return iph && iph->ttl <= 1;
}
