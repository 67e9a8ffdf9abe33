#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc") int broken(struct __sk_buff *skb)
{
	return 0   /* missing semicolon: clang must say so */
}
