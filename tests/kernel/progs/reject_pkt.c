/* Rejected by the verifier: reads packet byte 12 without checking
 * data_end first.  Line 10 is the access the verifier names. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc") int reject_pkt(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	if (data[12] == 8)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
