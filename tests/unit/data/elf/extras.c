/* Fixture: the less common ELF and BTF forms the analyzer must read.
 *
 * A bpf_loop() callback (a function address, not a call), a static function
 * in a program's own section (called without a relocation; libbpf itself
 * refuses such objects, the analyzer reads them anyway), .data and a string
 * in .rodata (relocated against the section symbol), maps declared with
 * key_size/value_size and through typedefs and qualifiers, and BTF kinds the
 * other fixtures lack: ENUM, UNION, FLOAT, RESTRICT, FWD, DECL_TAG,
 * TYPE_TAG and bitfields.
 */
#include "extframe.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum colour { RED = 1, GREEN = 2, BLUE = -3 };

struct opaque;

struct flags {
	__u32 low : 3;
	__u32 high : 29;
};

union either {
	__u32 word;
	float ratio;
	struct flags bits;
};

typedef const volatile struct flags flags_t;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 24);
	__uint(max_entries, 8);
	__uint(map_flags, 0);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, flags_t);
	__type(value, union either);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} typed SEC(".maps");

__u32 counter = 5;
enum colour shade = GREEN;
union either last;
struct opaque *nowhere;
int tagged __attribute__((btf_decl_tag("extframe:tag")));
int __attribute__((btf_type_tag("user"))) *user_ptr;

static __noinline int local_in_tc(int x) SEC("tc");

static __noinline int
local_in_tc(int x)
{
	return x * 3 + counter;
}

static int
step(__u32 i, void *ctx)
{
	counter += i;
	return 0;
}

static __noinline __u32
copy(__u32 *restrict dst, const __u32 *restrict src)
{
	*dst = *src;
	return *dst;
}

SEC("tc")
int
loops(struct __sk_buff *skb)
{
	__u32 k = 0, v = skb->len;

	bpf_loop(4, step, 0, 0);
	bpf_printk("len %d", skb->len);
	last.word = copy(&k, &v) + shade + tagged;
	bpf_map_lookup_elem(&sized, &k);
	return local_in_tc(skb->len);
}
