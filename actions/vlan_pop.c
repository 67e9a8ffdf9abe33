/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vlan_pop - remove the outermost VLAN tag (TPID 0x8100 or 0x88a8).
 *
 * Maps: none.  Argument: none (cb[1] is ignored).
 *
 * Verdict:
 *   one tag                               tag removed: the addresses are
 *                                         followed by the ethertype that
 *                                         followed the tag, continue
 *   two or more tags (802.1ad + 802.1Q,   outermost removed; the next tag,
 *   802.1Q + 802.1Q, ...)                 TPID and TCI as they were, is the
 *                                         outermost now, continue
 *   untagged frame (IP, ARP, a bare       continue, unchanged (as OVS's
 *   14-byte header, ...)                  pop_vlan, eth_pop_vlan())
 *   ethertype 0x8100/0x88a8 but fewer     continue, unchanged (as OVS's
 *   than 4 bytes of tag follow            eth_pop_vlan())
 *   a helper fails (not seen on the       error (OVS drops the packet)
 *   frames OVS hands over)
 * Nothing behind the tags is parsed: IP fragments, options and truncated
 * L3/L4 headers behind a tag lose the tag like any other frame.
 *
 * What bpf_skb_vlan_pop() does here (skb_vlan_pop(), net/core/skbuff.c),
 * tested with BPF_PROG_TEST_RUN on 6.18: BPF_PROG_TEST_RUN never sets a
 * hardware-accelerated tag, so the helper pops the outermost tag from the
 * bytes and sets skb->protocol to the ethertype that followed it.  When that
 * is a VLAN TPID again, it also pops the next tag from the bytes and keeps
 * it in skb->vlan_tci / skb->vlan_proto (vlan_present set), as a NIC would
 * have delivered it.  BPF_PROG_TEST_RUN, and so OVS, returns only the bytes,
 * so that tag would be lost: a QinQ frame would come out with no tag at all.
 * So after the pop, a tag present in the metadata is written back into the
 * bytes, with bpf_skb_change_head() + bpf_skb_store_bytes(), in front of the
 * rest (with three tags, the third is still in the bytes behind it).  The
 * copy in skb->vlan_tci stays: clearing it takes another bpf_skb_vlan_pop(),
 * which would pop a third tag from the bytes, and BPF_PROG_TEST_RUN discards
 * the metadata anyway.  A frame with a truncated tag is left alone before
 * the helper sees it, which would fail with -ENOMEM.
 */
#include "extframe.h"

EXTFRAME_EFFECTS(writes("length"));

char LICENSE[] SEC("license") = "GPL";

/* Entry point: pops the outermost tag, then puts back into the bytes the
 * tag that the helper moved into skb->vlan_tci. */
SEC("tc")
int
vlan_pop(struct __sk_buff *skb)
{
	struct extframe_cursor cur;
	__u16 eth_type;

	extframe_cursor_init(&cur, skb);
	if (!extframe_parse_eth(&cur, &eth_type)) {
		return EXTFRAME_ERROR;	/* OVS never passes < 14 bytes. */
	}
	if (!extframe_eth_type_is_vlan(eth_type)
	    || cur.pos + sizeof(struct extframe_vlan_hdr) > cur.end) {
		return EXTFRAME_CONTINUE;
	}

	/* From here on no packet pointer is valid. */
	if (bpf_skb_vlan_pop(skb)) {
		return EXTFRAME_ERROR;
	}
	if (skb->vlan_present
	    && extframe_vlan_insert_tag(skb, (__be16)skb->vlan_proto,
			       bpf_htons((__u16)skb->vlan_tci))) {
		return EXTFRAME_ERROR;
	}
	return EXTFRAME_CONTINUE;
}
