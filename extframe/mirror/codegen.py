"""Classic BPF (libpcap's output) translated to C, and the mirror action around it.

The translation is one C statement per classic instruction, each behind a
label, with the semantics of libpcap's reference interpreter
(``bpf_filter.c``): 32-bit accumulator ``A`` and index ``X``, sixteen
scratch words ``M[]``, big-endian packet loads that reject the packet when
they fall outside it, division by a zero ``X`` rejecting the packet. Classic
BPF only jumps forward, so the C has no loop and the verifier sees a DAG.
Packet bytes are read with ``bpf_skb_load_bytes``, which copies out of the
packet and never writes it; the analyzer proves the whole action
``read_only`` before it is registered.

The action (``mirror_source``) runs the filter, then an optional C
predicate, and copies an accepted packet, up to the snap length, into a BPF
ring buffer behind a small header (``RECORD_HEADER``). Four counters in an
array map say what it saw: packets seen, accepted, captured, and lost to a
full ring buffer.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

from extframe.errors import MirrorError
from extframe.mirror.pcapfilter import CbpfInsn, compile_filter

# Instruction classes and fields of classic BPF (<linux/filter.h>, <pcap/bpf.h>).
_LD, _LDX, _ST, _STX, _ALU, _JMP, _RET, _MISC = range(8)
_SIZE = {0x00: 4, 0x08: 2, 0x10: 1}  # W, H, B
_IMM, _ABS, _IND, _MEM, _LEN, _MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
_SRC_X = 0x08
_MEMWORDS = 16

#: The record the action writes before the packet bytes: capture time
#: (CLOCK_MONOTONIC, ns), the frame's length, the bytes copied, the OVS input
#: port, padding. Little-endian: the kernel's and this machine's order.
RECORD_HEADER = struct.Struct("<QIIII")
#: Names of the counters in the ``mirror_stats`` map, in its order.
COUNTERS = ("seen", "accepted", "captured", "ring_full")

_ALU_OPS = {
    0x00: "+",
    0x10: "-",
    0x20: "*",
    0x40: "|",
    0x50: "&",
    0xA0: "^",
}


def _cond(op: int, rhs: str) -> str:
    return {
        0x10: f"A == {rhs}",
        0x20: f"A > {rhs}",
        0x30: f"A >= {rhs}",
        0x40: f"(A & {rhs}) != 0",
    }[op]


def _k(k: int) -> str:
    return f"{k:#x}u"


def _translate(i: int, ins: CbpfInsn, n: int) -> str:
    """The C of instruction ``i`` (of ``n``)."""
    cls, code, k = ins.code & 0x07, ins.code, ins.k

    def target(off: int) -> int:
        t = i + 1 + off
        if t >= n:
            raise MirrorError(f"classic BPF instruction {i} jumps past the end ({t} of {n})")
        return t

    def mem(k: int) -> str:
        if k >= _MEMWORDS:
            raise MirrorError(f"classic BPF instruction {i} uses scratch word {k} (0..15)")
        return f"M[{k}]"

    if cls in (_LD, _LDX):
        reg = "A" if cls == _LD else "X"
        mode, size = code & 0xE0, _SIZE.get(code & 0x18)
        if mode == _IMM:
            return f"{reg} = {_k(k)};"
        if mode == _LEN:
            return f"{reg} = skb->len;"
        if mode == _MEM:
            return f"{reg} = {mem(k)};"
        if k >= 0x80000000 and mode in (_ABS, _IND):
            raise MirrorError(
                f"classic BPF instruction {i} is a Linux ancillary load (k={k:#x}); "
                "only packet loads are supported"
            )
        if cls == _LD and mode == _ABS and size:
            return f"if (mirror_load(skb, {_k(k)}, {size}, &A)) return 0;"
        if cls == _LD and mode == _IND and size:
            return f"if (X + {_k(k)} < X || mirror_load(skb, X + {_k(k)}, {size}, &A)) return 0;"
        if cls == _LDX and mode == _MSH and size == 1:
            return f"if (mirror_load(skb, {_k(k)}, 1, &X)) return 0;\n\tX = (X & 0xf) << 2;"
    elif cls == _ST:
        return f"{mem(k)} = A;"
    elif cls == _STX:
        return f"{mem(k)} = X;"
    elif cls == _ALU:
        op, rhs = code & 0xF0, ("X" if code & _SRC_X else _k(k))
        if op in _ALU_OPS:
            return f"A {_ALU_OPS[op]}= {rhs};"
        if op == 0x80:  # NEG
            return "A = -A;"
        if op in (0x30, 0x90):  # DIV, MOD
            sym = "/" if op == 0x30 else "%"
            if rhs == "X":
                return f"if (X == 0) return 0;\n\tA {sym}= X;"
            if k == 0:
                raise MirrorError(f"classic BPF instruction {i} divides by zero")
            return f"A {sym}= {rhs};"
        if op in (0x60, 0x70):  # LSH, RSH: a count of 32 or more gives 0, as libpcap does
            sym = "<<" if op == 0x60 else ">>"
            if rhs == "X":
                return f"A = X < 32 ? A {sym} X : 0;"
            return f"A {sym}= {k};" if k < 32 else "A = 0;"
    elif cls == _JMP:
        op = code & 0xF0
        if op == 0x00:  # JA
            return f"goto L{target(k)};"
        if op in (0x10, 0x20, 0x30, 0x40):
            rhs = "X" if code & _SRC_X else _k(k)
            return f"if ({_cond(op, rhs)}) goto L{target(ins.jt)}; else goto L{target(ins.jf)};"
    elif cls == _RET:
        src = code & 0x18
        if src == 0x00:
            return f"return {_k(k)};"
        if src == 0x10:
            return "return A;"
    elif cls == _MISC:
        if code & 0xF8 == 0x00:  # TAX
            return "X = A;"
        if code & 0xF8 == 0x80:  # TXA
            return "A = X;"
    raise MirrorError(f"classic BPF instruction {i} (code {code:#06x}) is not supported")


def filter_c(insns: list[CbpfInsn], expression: str) -> str:
    """A C function ``mirror_filter(skb)`` equal to the classic program ``insns``."""
    if not insns:
        raise MirrorError("empty classic BPF program")
    if insns[-1].code & 0x07 != _RET:
        raise MirrorError("classic BPF program does not end in a return")
    body = [
        f"L{i}:\t/* {_describe(ins)} */\n\t{_translate(i, ins, len(insns))}"
        for i, ins in enumerate(insns)
    ]
    comment = expression.replace("*/", "* /") or "(every packet)"
    return (
        f"/* tcpdump filter: {comment}\n"
        f" * {len(insns)} classic BPF instructions from libpcap, one statement each. */\n"
        "static __always_inline __u32\n"
        "mirror_filter(struct __sk_buff *skb)\n"
        "{\n"
        "\t__u32 A = 0, X = 0;\n"
        f"\t__u32 M[{_MEMWORDS}] = {{}};\n\n"
        "\t(void)X;\n\t(void)M;\n" + "\n".join(body) + "\n\treturn 0;\n}\n"
    )


def _describe(ins: CbpfInsn) -> str:
    return f"code {ins.code:#06x} jt {ins.jt} jf {ins.jf} k {ins.k:#x}"


_ACTION = r"""/*
 * Generated by extframe mirror: a read-only action that copies the packets a
 * filter accepts into a BPF ring buffer.  Do not edit; regenerate it.
 */
#include "extframe.h"

#define MIRROR_SNAPLEN {snaplen}
#define MIRROR_RING_BYTES {ring_bytes}
#define MIRROR_CPUS {cpus}

struct mirror_record {{
	__u64 ts_ns;		/* bpf_ktime_get_ns() at capture */
	__u32 wire_len;		/* the frame's length */
	__u32 cap_len;		/* bytes that follow, at most MIRROR_SNAPLEN */
	__u32 in_port;		/* OVS input port (odp) */
	__u32 pad;
	__u8 data[MIRROR_SNAPLEN];
}};

struct mirror_stats {{
	__u64 seen;		/* packets the action ran on */
	__u64 accepted;		/* packets the filter (and predicate) accepted */
	__u64 captured;		/* records written into the ring buffer */
	__u64 ring_full;	/* accepted packets lost: the ring buffer was full */
}};

struct {{
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MIRROR_RING_BYTES);
}} mirror_ring SEC(".maps");

/* The record is built here, not on the 512-byte stack: one slot per CPU
 * (a per-CPU array would cap a value at 32 KiB, less than a snap length). */
struct {{
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MIRROR_CPUS);
	__type(key, __u32);
	__type(value, struct mirror_record);
}} mirror_scratch SEC(".maps");

struct {{
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mirror_stats);
}} mirror_stats SEC(".maps");

/* Big-endian load of size 1, 2 or 4 at off, as classic BPF reads the packet;
 * nonzero when the bytes are not all inside it. */
static __always_inline int
mirror_load(struct __sk_buff *skb, __u32 off, __u32 size, __u32 *out)
{{
	__u8 b[4];

	if (size == 4) {{
		if (bpf_skb_load_bytes(skb, off, b, 4))
			return 1;
		*out = (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
	}} else if (size == 2) {{
		if (bpf_skb_load_bytes(skb, off, b, 2))
			return 1;
		*out = (__u32)b[0] << 8 | b[1];
	}} else {{
		if (bpf_skb_load_bytes(skb, off, b, 1))
			return 1;
		*out = b[0];
	}}
	return 0;
}}

{filter}
{predicate}
SEC("tc")
int mirror(struct __sk_buff *skb)
{{
	__u32 zero = 0, cpu, snap, len;
	struct mirror_stats *stats = bpf_map_lookup_elem(&mirror_stats, &zero);
	struct mirror_record *rec;

	if (!stats)
		return EXTFRAME_CONTINUE;
	__sync_fetch_and_add(&stats->seen, 1);
	snap = mirror_filter(skb);
	if (!snap || !{predicate_call})
		return EXTFRAME_CONTINUE;
	__sync_fetch_and_add(&stats->accepted, 1);

	len = skb->len;
	if (len > snap)
		len = snap;
	if (len > MIRROR_SNAPLEN)
		len = MIRROR_SNAPLEN;
	cpu = bpf_get_smp_processor_id();
	rec = bpf_map_lookup_elem(&mirror_scratch, &cpu);
	if (!rec || len == 0)
		return EXTFRAME_CONTINUE;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->wire_len = skb->len;
	rec->cap_len = len;
	rec->in_port = extframe_in_port(skb);
	rec->pad = 0;
	if (bpf_skb_load_bytes(skb, 0, rec->data, len))
		return EXTFRAME_CONTINUE;
	len += offsetof(struct mirror_record, data);
	if (bpf_ringbuf_output(&mirror_ring, rec, len, 0))
		__sync_fetch_and_add(&stats->ring_full, 1);
	else
		__sync_fetch_and_add(&stats->captured, 1);
	return EXTFRAME_CONTINUE;
}}

EXTFRAME_EFFECTS(read_only);
char LICENSE[] SEC("license") = "GPL";
"""


def possible_cpus() -> int:
    """How many CPUs the kernel may run a program on (``/sys/devices/system/cpu/possible``)."""
    try:
        text = Path("/sys/devices/system/cpu/possible").read_text().strip()
        return max(int(part.split("-")[-1]) for part in text.split(",")) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def mirror_source(
    insns: list[CbpfInsn],
    expression: str,
    *,
    snaplen: int,
    ring_bytes: int,
    predicate: Path | None = None,
) -> str:
    """The C of the whole mirror action."""
    if predicate is None:
        pred, call = "", "1"
    else:
        pred = (
            "/* The user's predicate: int extframe_mirror_match(struct __sk_buff *skb),\n"
            " * nonzero to capture. */\n"
            f'#include "{predicate.resolve()}"\n'
        )
        call = "extframe_mirror_match(skb)"
    return _ACTION.format(
        snaplen=snaplen,
        cpus=possible_cpus(),
        ring_bytes=ring_bytes,
        filter=filter_c(insns, expression),
        predicate=pred,
        predicate_call=call,
    )


class Record(NamedTuple):
    """One captured packet, as the action wrote it into the ring buffer."""

    ts_ns: int  # CLOCK_MONOTONIC
    wire_len: int
    in_port: int
    data: bytes


def decode_record(raw: bytes) -> Record:
    """The record behind ``raw``, a ring buffer sample of the mirror action."""
    if len(raw) < RECORD_HEADER.size:
        raise MirrorError(f"ring buffer record of {len(raw)} bytes: shorter than its header")
    ts_ns, wire_len, cap_len, in_port, _ = RECORD_HEADER.unpack_from(raw)
    data = raw[RECORD_HEADER.size : RECORD_HEADER.size + cap_len]
    if len(data) != cap_len:
        raise MirrorError(f"ring buffer record says {cap_len} bytes, holds {len(data)}")
    return Record(ts_ns, wire_len, in_port, data)


def write_action(
    dest: Path,
    expression: str,
    *,
    snaplen: int,
    ring_bytes: int,
    predicate: Path | None = None,
) -> Path:
    """Compile ``expression`` with libpcap and write the mirror action's C to ``dest``."""
    if predicate is not None and not predicate.is_file():
        raise MirrorError(f"{predicate}: no such predicate file")
    insns = compile_filter(expression, snaplen)
    dest.write_text(
        mirror_source(
            insns, expression, snaplen=snaplen, ring_bytes=ring_bytes, predicate=predicate
        )
    )
    return dest
