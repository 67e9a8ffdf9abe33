/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * payload_scrub - mask the ASCII word "SECRET" in the first 256 bytes of UDP
 * payload.
 *
 * Every occurrence of the 6 bytes "SECRET" (53 45 43 52 45 54, compiled in,
 * case-sensitive) that lies wholly within the first SCRUB_WINDOW_SIZE (256)
 * bytes of UDP payload, that is starts at payload offset 0..250, is
 * replaced by "******" (six 0x2a).  The payload ends at the UDP length
 * field (not at the frame end, so Ethernet padding is never touched) or at
 * the frame end when the datagram is cut short.  "SECRET" cannot overlap
 * itself, so occurrences are disjoint.  The UDP checksum is updated
 * incrementally (RFC 1624) for each occurrence; no other byte changes, in
 * particular no header field the OVS flow key holds.
 *
 * Maps: none.  Argument: none (cb[1] is ignored).
 *
 * Verdict (always continue):
 *   UDP over IPv4/IPv6, "SECRET" in window   masked, checksum updated
 *   UDP, no whole "SECRET" in the window     unchanged
 *   (absent, beyond byte 256, cut by the
 *   UDP length or the frame end)
 *   UDP checksum 0                           masked, checksum stays 0
 *   (IPv4: no checksum; IPv6: RFC 6936       (an update of "no checksum"
 *   zero-checksum UDP)                       would only make it wrong)
 *   updated checksum comes out 0             0xffff instead (RFC 768: 0
 *                                            means "none")
 *   behind 1-2 VLAN tags, IPv4 options       as above
 *   IPv4 first fragment                      masked within this fragment;
 *                                            the checksum (over the whole
 *                                            datagram) updated alike; a
 *                                            word split across fragments
 *                                            is not seen
 *   IPv6 with any extension header           unchanged (see below)
 *   (hop-by-hop, routing, destination
 *   options, fragment, ...)
 *   later IPv4 fragment                      unchanged
 *   UDP length < 8 (IPv6 jumbogram: 0)       unchanged
 *   UDP header truncated                     unchanged
 *   TCP, ICMP, other protocols, not IP       unchanged
 *   IP header truncated or malformed         unchanged
 *
 * Why not behind IPv6 extension headers: the promise above, "no header
 * field the OVS flow key holds", is one "extframe check" proves, so that
 * OVS need not re-classify after this action.  Behind a chain of
 * extension headers the analyzer cannot yet place the UDP header (it joins
 * the chain's many layouts before the UDP header is known), and a scrub
 * there would be proved to write anywhere in the frame, which would cost a
 * re-classification on every packet (docs/decisions/0003, "Known limit").
 * EXTFRAME_IPV6_EXT_MAX 0 makes the shared parser stop at the first
 * extension header, so such a packet looks like "not UDP".
 *
 * Writes: direct packet stores, the mask at a variable offset behind the
 * UDP header and udp.check once at the end; no helper call.  The scan is a
 * plain bounded loop (one step per payload offset, at most 251) in a global
 * function, scrub_udp_payload(), which the verifier walks once for all
 * header layouts (about 40,000 instructions processed in all): see there.
 * The verifier sees its stores at "frame offset 0..255 (the UDP header)
 * plus 8..263"; "extframe check" names them payload and udp.csum from the
 * callers' arguments, which its static analysis follows into the function.
 */
#define EXTFRAME_IPV6_EXT_MAX 0
#include "extframe.h"

EXTFRAME_EFFECTS(writes("payload", "udp.csum"));

char LICENSE[] SEC("license") = "GPL";

/* Bytes of UDP payload scanned, from its start. */
#define SCRUB_WINDOW_SIZE 256
/* Length of the pattern "SECRET" and of its mask "******". */
#define SCRUB_PATTERN_SIZE 6
#define SCRUB_MASK_BYTE '*'
/* Bound on the UDP header's offset in the frame, which the verifier needs
 * before it adds the offset to a packet pointer (the sum must stay below
 * 64 KB).  The furthest a parsed UDP header can be is 14 + 2 * 4 + 60 (two
 * VLAN tags, an IPv4 header with the most options) = 82. */
#define SCRUB_UDP_OFF_MAX 0xff

/*
 * One's complement sums of the pattern's and the mask's 16-bit words, in
 * host order, as the UDP checksum sees them.  At an even offset from the
 * UDP header the words are "SE" "CR" "ET": 0x5345 + 0x4352 + 0x4554 =
 * 0xdbeb.  At an odd offset every byte sits in the other half of its word,
 * which byte-swaps the sum: 0xebdb.  "**" "**" "**" gives 0x7e7e either way.
 */
#define SCRUB_PATTERN_SUM_EVEN 0xdbeb
#define SCRUB_PATTERN_SUM_ODD 0xebdb
#define SCRUB_MASK_SUM 0x7e7e

/* Returns nonzero when the 6 bytes at p are "SECRET".  p[0] is tested first
 * so that most offsets cost one load. */
static __always_inline int
is_pattern(const __u8 *p)
{
	return p[0] == 'S' && p[1] == 'E' && p[2] == 'C' && p[3] == 'R'
	       && p[4] == 'E' && p[5] == 'T';
}

/* Overwrites the 6 bytes at p with the mask. */
static __always_inline void
write_mask(__u8 *p)
{
	p[0] = SCRUB_MASK_BYTE;
	p[1] = SCRUB_MASK_BYTE;
	p[2] = SCRUB_MASK_BYTE;
	p[3] = SCRUB_MASK_BYTE;
	p[4] = SCRUB_MASK_BYTE;
	p[5] = SCRUB_MASK_BYTE;
}

/* Masks every occurrence of the pattern in the first SCRUB_WINDOW_SIZE
 * bytes of the payload of the UDP header that starts udp_off bytes into
 * the frame, and updates the UDP checksum.  The caller has parsed that far;
 * this function checks again because the verifier verifies a global
 * function on its own, once for all callers: the entry point reaches here
 * by 14 header layouts (0-2 VLAN tags of two kinds, IPv4 or IPv6), and
 * walking the loop below once per layout costs the verifier some 237,000
 * instructions instead of about 40,000, and "extframe check", which reads
 * the verifier's whole log, three times as long.  The caller's pointer
 * subtraction that yields udp_off needs a privileged loader (the verifier
 * allows it with CAP_PERFMON), as OVS is.  Returns 0. */
__noinline int
scrub_udp_payload(struct __sk_buff *skb, __u64 udp_off)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct udphdr *uh;
	__u8 *payload;
	__sum16 old_check, check;
	__u32 size, i;
	__u16 old_sum;

	if (udp_off > SCRUB_UDP_OFF_MAX) {
		return 0;
	}
	uh = data + udp_off;
	if ((void *)(uh + 1) > end) {
		return 0;
	}
	size = bpf_ntohs(uh->len);
	if (size < sizeof(*uh)) {
		return 0;
	}
	size -= sizeof(*uh);
	payload = (__u8 *)(uh + 1);
	old_check = uh->check;
	check = old_check;

	for (i = 0; i <= SCRUB_WINDOW_SIZE - SCRUB_PATTERN_SIZE; i++) {
		__u8 *p = payload + i;

		if (i + SCRUB_PATTERN_SIZE > size
		    || (void *)(p + SCRUB_PATTERN_SIZE) > end) {
			break;
		}
		if (!is_pattern(p)) {
			continue;
		}
		write_mask(p);
		/* The payload starts 8 bytes (even) after the UDP header. */
		old_sum = (i & 1) ? SCRUB_PATTERN_SUM_ODD
				  : SCRUB_PATTERN_SUM_EVEN;
		check = extframe_csum16_replace(check, bpf_htons(old_sum),
						bpf_htons(SCRUB_MASK_SUM));
	}

	/* A checksum that comes out as it was needs no store.  This test
	 * stands for "was anything masked": a count of masked words would be
	 * a constant the verifier tracks exactly, and it would keep apart
	 * states that differ only in it, some 250 times over. */
	if (old_check == 0 || check == old_check) {
		return 0;
	}
	if (check == 0) {
		check = (__sum16)0xffff;
	}
	uh->check = check;
	return 0;
}

/* Entry point: finds a whole UDP header that is not in a later fragment
 * and hands its offset to scrub_udp_payload(). */
SEC("tc")
int
payload_scrub(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct extframe_hdrs h;

	if (extframe_parse_l2_l4(skb, &h) < 0 || !h.l4
	    || h.ip_proto != IPPROTO_UDP) {
		return EXTFRAME_CONTINUE;
	}
	scrub_udp_payload(skb, (void *)h.udp - data);
	return EXTFRAME_CONTINUE;
}
