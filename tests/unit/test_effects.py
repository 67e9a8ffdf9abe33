"""Effects and verdicts without a kernel: captured logs and hand-assembled programs.

The fixtures in data/logs/ are real: each NAME.c was loaded into Linux 6.18
by data/logs/capture.py, which kept the log and the instructions the kernel
verified (NAME.insns). ``analyze_program`` gets both, exactly as
``extframe check`` gives it a fresh load. The hand-assembled programs test
the static analysis on shapes clang does not reliably produce.
"""

from __future__ import annotations

import gzip
import struct
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.effects import Analysis, KernelEvidence, analyze_program
from analyzer.elf import ProgramSpec
from analyzer.errors import AnalyzerError

LOGS = Path(__file__).parent / "data" / "logs"


@cache
def fixture(stem: str) -> tuple[bytes, str]:
    plain = LOGS / f"{stem}.log"
    log = (
        plain.read_text()
        if plain.exists()
        else gzip.decompress((LOGS / f"{stem}.log.gz").read_bytes()).decode()
    )
    return (LOGS / f"{stem}.insns").read_bytes(), log


def analyze_fixture(stem: str, *, log: str | None = None, complete: bool = True) -> Analysis:
    insns, real_log = fixture(stem)
    evidence = KernelEvidence(
        accepted=True, log=real_log if log is None else log, log_complete=complete, insns=insns
    )
    return analyze_program(ProgramSpec.from_bytecode(insns, stem), "tc", kernel=evidence)


def spans(a: Analysis) -> set[tuple[int, int, int | None, str]]:
    return {(w.insn, w.offset_min, w.offset_max, w.via) for w in a.effects.packet_writes}


# --- captured programs with their logs ---------------------------------------------

WRITES = {
    "fixed_write": {(7, 22, 22, "store"), (8, 15, 15, "store")},
    "spill_fill": {(9, 13, 13, "store")},
    "subprog_call": {(14, 22, 22, "store")},
    # ihl * 4 + 14 + 6 and + 7: ihl is 0..15 as far as the verifier knows
    "var_offset": {(14, 21, 81, "store"), (15, 20, 80, "store")},
    "global_func": {(15, 22, 22, "store")},
    "helper_calls": {
        (9, 15, 15, "store"),
        (16, 22, 22, "skb_store_bytes"),
        (23, 23, 23, "store"),
    },
    "branch_twice": {(12, 15, 19, "store")},
    "action_dec_ttl": {(71, 22, 30, "store"), (80, 24, 33, "store"), (95, 21, 29, "store")},
}


@pytest.mark.parametrize("stem", sorted(WRITES))
def test_writers_report_every_write_with_its_span(stem: str) -> None:
    a = analyze_fixture(stem)
    assert a.effects.verdict == "writes", a.effects.reasons
    assert a.effects.flow_key_affected
    assert spans(a) == WRITES[stem]
    assert not a.effects.disagreements


@pytest.mark.parametrize("stem", ["map_lookup", "action_port_counter", "action_port_filter"])
def test_readers_are_proved_read_only(stem: str) -> None:
    a = analyze_fixture(stem)
    assert a.effects.verdict == "read_only", a.effects.reasons
    assert not a.effects.flow_key_affected
    assert a.effects.packet_writes == []
    assert a.effects.kernel is not None and a.effects.kernel.log_complete


def test_stores_seen_by_both_carry_both_evidences() -> None:
    a = analyze_fixture("fixed_write")
    assert {tuple(w.evidence) for w in a.effects.packet_writes} == {("static", "verifier")}


def test_metadata_writes_are_named_and_classified() -> None:
    a = analyze_fixture("global_func")
    (mark,) = a.effects.metadata_writes
    assert (mark.field, mark.classifier_visible) == ("meta.mark", True)
    helper = analyze_fixture("helper_calls")
    fields = {m.field for m in helper.effects.metadata_writes}
    assert fields == {"meta.csum", "meta.hash"}  # bpf_skb_store_bytes's flags
    assert not any(m.classifier_visible for m in helper.effects.metadata_writes)


def test_map_uses_are_listed() -> None:
    a = analyze_fixture("action_port_counter")
    (use,) = a.effects.maps
    assert use.read and use.written
    assert use.name.startswith("map fd ")  # raw bytecode: no names


def test_raw_kfunc_calls_are_unknown_without_their_names() -> None:
    a = analyze_fixture("dynptr_kfunc")
    assert a.effects.verdict == "unknown"
    assert any("not in the effects table" in r for r in a.effects.reasons)


# --- logs that cannot be trusted -----------------------------------------------------


def test_truncated_log_is_unknown() -> None:
    _, log = fixture("action_port_counter")
    cut = "\n".join(log.splitlines()[:-6])
    a = analyze_fixture("action_port_counter", log=cut)
    assert a.effects.verdict == "unknown"
    assert any("processed" in r for r in a.effects.reasons), a.effects.reasons


def test_log_marked_incomplete_by_the_loader_is_unknown() -> None:
    a = analyze_fixture("action_port_counter", complete=False)
    assert a.effects.verdict == "unknown"
    assert any("truncated" in r for r in a.effects.reasons)


def test_log_of_another_program_is_unknown() -> None:
    _, other = fixture("action_dec_ttl")
    a = analyze_fixture("action_port_counter", log=other)
    assert a.effects.verdict == "unknown"
    assert any("cannot be used" in r for r in a.effects.reasons), a.effects.reasons


def test_garbage_log_is_unknown() -> None:
    a = analyze_fixture("map_lookup", log="hello\nworld\n")
    assert a.effects.verdict == "unknown"


def test_rejected_program_is_unknown() -> None:
    insns, log = fixture("map_lookup")
    evidence = KernelEvidence(accepted=False, log=log, log_complete=True, error="R1 invalid mem")
    a = analyze_program(ProgramSpec.from_bytecode(insns), "tc", kernel=evidence)
    assert a.effects.verdict == "unknown"
    assert any("rejected" in r and "R1 invalid mem" in r for r in a.effects.reasons)


def test_kernel_copy_that_differs_is_unknown() -> None:
    insns, log = fixture("map_lookup")
    changed = bytearray(insns)
    changed[-16 + 1] ^= 0x01  # the dst register of the second-to-last insn
    evidence = KernelEvidence(accepted=True, log=log, log_complete=True, insns=bytes(changed))
    a = analyze_program(ProgramSpec.from_bytecode(insns), "tc", kernel=evidence)
    assert a.effects.verdict == "unknown"
    assert any("kernel's copy" in r for r in a.effects.reasons)


def test_without_the_kernel_read_only_is_never_claimed() -> None:
    insns, _ = fixture("map_lookup")
    a = analyze_program(ProgramSpec.from_bytecode(insns), "tc")
    assert a.effects.static_verdict == "read_only"
    assert a.effects.verdict == "unknown"
    assert a.effects.kernel is None


def test_without_the_kernel_writes_are_still_found() -> None:
    insns, _ = fixture("fixed_write")
    a = analyze_program(ProgramSpec.from_bytecode(insns), "tc")
    assert a.effects.verdict == "writes"
    assert spans(a) == WRITES["fixed_write"]
    assert {tuple(w.evidence) for w in a.effects.packet_writes} == {("static",)}


# --- hand-assembled programs ---------------------------------------------------------


def op(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def ld_imm64(dst: int, value: int, src: int = 0) -> bytes:
    return op(0x18, dst, src, 0, value & 0xFFFFFFFF) + op(0, 0, 0, 0, value >> 32)


EXIT = op(0x95)
RET0 = op(0xB7, 0, imm=0) + EXIT
# r2 = skb->data; r3 = skb->data_end; r4 = r2 + 64; if r4 > r3 goto +N (the tail)
PROLOGUE = op(0x61, 2, 1, 76) + op(0x61, 3, 1, 80) + op(0xBF, 4, 2) + op(0x07, 4, imm=64)


def guarded(body: bytes) -> bytes:
    """PROLOGUE, a bounds check that skips ``body`` when 64 bytes are not there, RET0."""
    skip = len(body) // 8
    return PROLOGUE + op(0x2D, 4, 3, skip) + body + RET0


def static(code: bytes) -> Analysis:
    return analyze_program(ProgramSpec.from_bytecode(code, "hand"), "tc")


def test_direct_store_at_fixed_offset() -> None:
    a = static(guarded(op(0x72, 2, 0, 22, 1)))  # *(u8 *)(r2 +22) = 1
    assert spans(a) == {(5, 22, 22, "store")}


def test_store_through_a_spilled_and_filled_pointer() -> None:
    body = op(0x7B, 10, 2, -16) + op(0x79, 5, 10, -16) + op(0x6A, 5, 0, 6, 7)
    a = static(guarded(body))  # spill r2, fill r5, *(u16 *)(r5 +6) = 7
    assert spans(a) == {(7, 6, 7, "store")}


def test_narrow_overwrite_of_a_spill_leaves_a_number() -> None:
    # As the verifier does (check_stack_write_fixed_off: scrub_spilled_slot),
    # a spilled pointer overwritten in part is a number; a store through it
    # is refused by the kernel, so it is no packet write.
    body = (
        op(0x7B, 10, 2, -8)
        + op(0x62, 10, 0, -8, 0)  # *(u32 *)(r10 -8) = 0
        + op(0x79, 5, 10, -8)
        + op(0x72, 5, 0, 1, 0)
    )
    a = static(guarded(body))
    assert a.effects.static_verdict == "read_only"


def test_variable_offset_from_a_masked_header_byte() -> None:
    body = (
        op(0x71, 5, 2, 14)  # r5 = ihl byte
        + op(0x57, 5, imm=0x0F)  # r5 &= 15
        + op(0x67, 5, imm=2)  # r5 <<= 2
        + op(0x0F, 2, 5)  # r2 += r5
        + op(0x72, 2, 0, 14, 0)  # *(u8 *)(r2 +14) = 0
    )
    a = static(guarded(body))
    assert spans(a) == {(9, 14, 74, "store")}


def test_branch_bounds_a_variable_offset() -> None:
    body = (
        op(0x71, 5, 2, 14)  # r5 = byte 14, 0..255
        + op(0x25, 5, 0, 2, 10)  # if r5 > 10 goto +2
        + op(0x0F, 2, 5)
        + op(0x72, 2, 0, 20, 0)
    )
    a = static(guarded(body))
    assert spans(a) == {(8, 20, 30, "store")}


def test_branch_on_a_copy_bounds_the_original() -> None:
    body = (
        op(0x71, 5, 2, 14)
        + op(0xBF, 6, 5)  # r6 = r5 (linked)
        + op(0x25, 6, 0, 2, 3)  # if r6 > 3 goto +2
        + op(0x0F, 2, 5)  # r2 += r5: bounded through r6's check
        + op(0x72, 2, 0, 20, 0)
    )
    a = static(guarded(body))
    assert spans(a) == {(9, 20, 23, "store")}


def test_write_inside_a_bpf_to_bpf_call() -> None:
    # main: bounds check, r1 = r2 + 14, call sub, return 0; sub: *(u8 *)(r1 +8) = 1
    main = guarded(op(0xBF, 1, 2) + op(0x07, 1, imm=14) + op(0x85, 0, 1, 0, 2))
    sub = op(0x72, 1, 0, 8, 1) + RET0
    a = static(main + sub)
    assert spans(a) == {(len(main) // 8, 22, 22, "store")}


def test_write_into_the_callers_stack_reaches_the_caller() -> None:
    # The callee spills a packet pointer into its caller's stack; the
    # caller fills it back and writes through it.
    main = guarded(
        op(0xBF, 1, 10)
        + op(0x07, 1, imm=-8)  # r1 = fp - 8
        + op(0x7B, 10, 2, -16)  # keep data at fp-16
        + op(0x79, 2, 10, -16)
        + op(0xBF, 6, 1)  # r6 = fp - 8
        + op(0x85, 0, 1, 0, 0)  # call sub (patched below)
        + op(0x79, 5, 6, 0)  # r5 = *(u64 *)(fp - 8): the pointer the callee left
        + op(0x72, 5, 0, 3, 9)
    )
    sub_start = len(main) // 8
    call_at = 5 + 5
    code = bytearray(main)
    code[call_at * 8 : call_at * 8 + 8] = op(0x85, 0, 1, 0, sub_start - call_at - 1)
    # sub(r1 = fp-8 of the caller, r2 = data): *(u64 *)(r1 +0) = r2
    sub = op(0x7B, 1, 2, 0) + RET0
    a = static(bytes(code) + sub)
    assert (call_at + 2, 3, 3, "store") in spans(a)


def test_callback_arguments_are_unknown() -> None:
    # r2 = &callback; call bpf_loop(4, cb, 0, 0) is helper 181, not in the
    # table (unknown); the callback stores through its second argument.
    main = op(0xB7, 1, imm=4) + ld_imm64(2, 3, src=4) + op(0xB7, 3) + op(0xB7, 4)
    main += op(0x85, 0, 0, 0, 181) + RET0
    cb = op(0x72, 2, 0, 0, 1) + RET0
    code = bytearray(main + cb)
    code[1 * 8 + 4 : 1 * 8 + 8] = struct.pack("<i", len(main) // 8 - 2)
    a = static(bytes(code))
    assert a.effects.verdict == "unknown"
    text = " ".join(a.effects.reasons)
    assert "cannot follow" in text and "bpf_loop (#181) is not modelled" in text


@pytest.mark.parametrize(
    ("helper", "says"),
    [
        (84, "helper bpf_sk_lookup_tcp (#84) is not modelled (looks up, casts or reads a socket"),
        (250, "helper #250, newer than Linux 6.18, is not in the effects table"),
        # Linux 6.18 has it, but offers it to neither tc nor XDP programs
        (58, "helper bpf_override_return (#58) is not in the effects table"),
    ],
)
def test_a_helper_without_a_row_is_unknown_and_named(helper: int, says: str) -> None:
    """A call the table has no row for is unknown, by its uapi name where it has one."""
    a = static(op(0x85, 0, 0, 0, helper) + RET0)
    assert a.effects.verdict == "unknown"
    assert any(says in r for r in a.effects.reasons), a.effects.reasons


def test_fib_lookup_writes_only_its_parameter_struct() -> None:
    # bpf_fib_lookup(ctx, fp-64, 64, 0): its struct is on the stack, so no
    # packet byte changes; before its row the verdict was unknown.
    code = op(0xBF, 2, 10) + op(0x07, 2, imm=-64) + op(0xB7, 3, imm=64) + op(0xB7, 4)
    a = static(code + op(0x85, 0, 0, 0, 69) + RET0)
    assert not spans(a)
    # Static analysis alone never says read_only; its only reason is that.
    assert a.effects.reasons == [
        "the static analysis found no write, but read_only needs the kernel verifier's "
        "complete log (run without --no-kernel)"
    ]
    # The same struct in the packet is a packet write of its 64 bytes. The
    # kernel refuses a packet pointer there (the proto has no pkt_access), but
    # a dynptr slice of the packet gets through as plain memory: the analysis
    # must take such an argument for a packet write either way.
    pkt = op(0x61, 2, 1, 76) + op(0x61, 5, 1, 80) + op(0xBF, 0, 2) + op(0x07, 0, imm=64)
    pkt += op(0x2D, 0, 5, 3) + op(0xB7, 3, imm=64) + op(0xB7, 4) + op(0x85, 0, 0, 0, 69)
    a = static(pkt + RET0)
    assert (7, 0, 63, "fib_lookup") in spans(a), spans(a)


def test_reserved_opcode_is_unknown() -> None:
    a = static(op(0xB7, 0) + op(0xFF) + EXIT)
    assert a.effects.verdict == "unknown"
    assert any("unknown instruction" in r for r in a.effects.reasons)


def test_tail_call_is_unknown() -> None:
    code = ld_imm64(2, 7, src=1) + op(0xB7, 3, imm=0) + op(0x85, 0, 0, 0, 12) + RET0
    a = static(code)
    assert a.effects.verdict == "unknown"
    assert a.effects.tail_calls == [3]


def test_skb_load_bytes_into_the_packet_is_a_write() -> None:
    # bpf_skb_load_bytes(skb, 6, data, 6): R1 must stay the context.
    body = op(0xBF, 3, 2) + op(0xB7, 2, imm=6) + op(0xB7, 4, imm=6) + op(0x85, 0, 0, 0, 26)
    code = op(0xBF, 6, 1) + guarded(body)
    a = static(code)
    assert (9, 0, 5, "skb_load_bytes") in spans(a)


def test_skb_load_bytes_onto_the_stack_is_not() -> None:
    body = (
        op(0xBF, 3, 10)
        + op(0x07, 3, imm=-16)
        + op(0xB7, 2, imm=0)
        + op(0xB7, 4, imm=14)
        + op(0x85, 0, 0, 0, 26)
    )
    a = static(op(0xBF, 6, 1) + guarded(body))
    assert a.effects.static_verdict == "read_only"


def test_context_stores_are_metadata_writes() -> None:
    code = op(0x62, 1, 0, 8, 42) + op(0x62, 1, 0, 52, 1) + RET0  # mark, cb[1]
    a = static(code)
    assert {(m.field, m.classifier_visible) for m in a.effects.metadata_writes} == {
        ("meta.mark", True),
        ("meta.cb", False),
    }
    assert a.effects.flow_key_affected


def test_only_invisible_metadata_leaves_the_flow_key_alone() -> None:
    a = static(op(0x62, 1, 0, 56, 3) + RET0)  # cb[2] = 3
    assert a.effects.verdict == "writes"
    assert not a.effects.flow_key_affected


def test_loops_are_widened_and_end() -> None:
    # r5 = 0; loop: r5 += 1; if r5 < 1000 goto loop; r2 += r5 (0..unbounded); store
    body = (
        op(0xB7, 5, imm=0)
        + op(0x07, 5, imm=1)
        + op(0xA5, 5, 0, -2, 1000)
        + op(0x0F, 2, 5)
        + op(0x72, 2, 0, 0, 0)
    )
    a = static(guarded(body))
    ((_, lo, hi, _),) = spans(a)
    assert lo <= 1000 and (hi is None or hi >= 1000)


def test_a_loop_counted_with_not_equal_keeps_its_bound() -> None:
    # r5 = 0; loop: store at r2 + 20 + r5; r5 += 1; if r5 != 9 goto loop.
    # Widening stops at the constant compared with, and "!= 9" shaves 9 off
    # the back edge: the store's span is bytes 20..28, no more and no less.
    body = (
        op(0xB7, 5, imm=0)
        + op(0xBF, 6, 2)  # r6 = r2
        + op(0x0F, 6, 5)  # r6 += r5
        + op(0x72, 6, 0, 20, 0)  # *(u8 *)(r6 +20) = 0
        + op(0x07, 5, imm=1)
        + op(0x55, 5, 0, -5, 9)  # if r5 != 9 goto -5
    )
    a = static(guarded(body))
    ((_, lo, hi, _),) = spans(a)
    assert (lo, hi) == (20, 28)


def test_jump_out_of_the_program_is_unknown() -> None:
    a = static(op(0x05, off=5) + RET0)
    assert a.effects.verdict == "unknown"
    assert any("control flow" in r for r in a.effects.reasons)


# --- anything in, a verdict or the analyzer's own error out -----------------------------


# Opcodes that make programs the analysis has to follow: loads, stores,
# ALU, jumps, calls, exits, ld_imm64.
_OPCODES = [0x07, 0x0F, 0x15, 0x18, 0x25, 0x2D, 0x57, 0x61, 0x62, 0x67, 0x71, 0x72, 0x79]
_OPCODES += [0x7B, 0x85, 0x95, 0xA5, 0xB7, 0xBF, 0xC3, 0xDB, 0x05, 0x06, 0x16, 0xD4, 0xDC]
_slot = st.tuples(
    st.sampled_from(_OPCODES) | st.integers(0, 255),
    st.integers(0, 11),
    st.integers(0, 11),
    st.integers(-8, 8) | st.sampled_from([76, 80, 140, -8, -16]),
    st.integers(-4, 64) | st.integers(-(2**31), 2**31 - 1),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_slot, min_size=1, max_size=40))
def test_any_bytecode_gets_a_verdict_or_a_clean_error(
    slots: list[tuple[int, int, int, int, int]],
) -> None:
    code = b"".join(op(c, d & 15, s & 15, o, i) for c, d, s, o, i in slots)
    try:
        spec = ProgramSpec.from_bytecode(code, "random")
    except AnalyzerError:
        return
    a = analyze_program(spec, "tc")
    assert a.effects.verdict in ("writes", "unknown")  # never read_only without a kernel
    if a.effects.verdict == "writes":
        assert a.effects.packet_writes or a.effects.metadata_writes or a.effects.length_changes


# --- disagreements between the witnesses -------------------------------------------------


def test_a_store_the_verifier_calls_stack_but_static_calls_packet_is_kept() -> None:
    _, log = fixture("fixed_write")
    edited = log.replace(
        "7: (73) *(u8 *)(r1 +22) = r3          ; R1=pkt(r=34) R3=16",
        "7: (73) *(u8 *)(r1 +22) = r3          ; R1=fp-64 R3=16",
    )
    assert edited != log
    a = analyze_fixture("fixed_write", log=edited)
    assert a.effects.verdict == "writes"
    assert (7, 22, 22, "store") in spans(a)  # the static witness keeps it
    (d,) = a.effects.disagreements
    assert (d.insn, d.resolution) == (7, "kept as a packet write")
    assert "fp-64" in d.verifier
    assert any("disagree" in r for r in a.effects.reasons)


def test_a_packet_store_only_the_verifier_sees_is_added() -> None:
    # map_lookup stores into a map value (insn 12: *(u64 *)(r0 +0) = r1); a
    # log that types the base as a packet pointer must not be ignored.
    _, log = fixture("map_lookup")
    lines = log.splitlines()
    (i, line) = next((i, ln) for i, ln in enumerate(lines) if ln.startswith("12: (7b)"))
    lines[i] = line.split(" ; ")[0] + " ; R0=pkt(off=4,r=40)"
    a = analyze_fixture("map_lookup", log="\n".join(lines))
    assert a.effects.verdict == "writes"
    (w,) = a.effects.packet_writes
    assert (w.insn, w.offset_min, w.offset_max, w.evidence) == (12, 4, 11, ["verifier"])
    (d,) = a.effects.disagreements
    assert d.static == "no packet pointer"


def test_a_packet_store_only_the_verifier_sees_past_ethernet_has_assumed_names() -> None:
    # The verifier's span alone says nothing of the frame's layout: bytes
    # 20..27 are named as on IPv4/IPv6 without options, and only assumed.
    _, log = fixture("map_lookup")
    lines = log.splitlines()
    (i, line) = next((i, ln) for i, ln in enumerate(lines) if ln.startswith("12: (7b)"))
    lines[i] = line.split(" ; ")[0] + " ; R0=pkt(off=20,r=40)"
    (w,) = analyze_fixture("map_lookup", log="\n".join(lines)).effects.packet_writes
    assert (w.offset_min, w.offset_max, w.layout) == (20, 27, "assumed")
    assert "ip.ttl" in w.fields and w.flow_key
    # Bytes 4..11 are the Ethernet addresses in every frame: proved.
    lines[i] = line.split(" ; ")[0] + " ; R0=pkt(off=4,r=40)"
    (w,) = analyze_fixture("map_lookup", log="\n".join(lines)).effects.packet_writes
    assert (w.fields, w.layout) == (["eth.dst", "eth.src"], "proved")


# r5 = *(u16 *)(r2 +12); if r5 != 0x0008 goto +1 (skips the next instruction): IPv4 only
IPV4_ONLY = op(0x69, 5, 2, 12) + op(0x55, 5, 0, 1, 0x0008)


def test_a_write_behind_a_checked_ethertype_has_proved_names() -> None:
    (w,) = static(guarded(IPV4_ONLY + op(0x72, 2, 0, 22, 1))).effects.packet_writes
    assert (w.fields, w.flow_key, w.layout) == (["ip.ttl"], True, "proved")


def test_a_write_without_a_checked_ethertype_has_assumed_names() -> None:
    (w,) = static(guarded(op(0x72, 2, 0, 22, 1))).effects.packet_writes
    assert w.layout == "assumed" and {"ip.ttl", "ipv6.payload_len"} <= set(w.fields)


def test_one_assumed_path_makes_the_instructions_names_assumed() -> None:
    # The same store on an IPv4 path and on a path that checked nothing.
    # r6 = 0; if r5 != 0x0008 goto +1; r6 = 1; then the store, reached by both
    body = op(0x69, 5, 2, 12) + op(0xB7, 6, imm=0) + op(0x55, 5, 0, 1, 0x0008)
    body += op(0xB7, 6, imm=1) + op(0x72, 2, 0, 22, 1)
    (w,) = static(guarded(body)).effects.packet_writes
    assert w.layout == "assumed" and "ip.ttl" in w.fields


def test_a_layout_change_makes_every_write_assumed() -> None:
    # An IPv4 TTL store, then bpf_skb_vlan_push (18): offsets no longer
    # count from the frame the names were proved on.
    a = static(guarded(IPV4_ONLY + op(0x72, 2, 0, 22, 1) + op(0x85, 0, 0, 0, 18)))
    assert [c.helper for c in a.effects.length_changes] == ["bpf_skb_vlan_push"]
    (w,) = a.effects.packet_writes
    assert (w.offset_min, w.offset_max, w.layout) == (0, None, "assumed")


def test_spans_of_both_witnesses_are_joined() -> None:
    # The log narrows nothing away: the answer covers the static span too.
    a = analyze_fixture("var_offset")
    static_only = analyze_program(ProgramSpec.from_bytecode(fixture("var_offset")[0]), "tc")
    both = {(w.insn, w.offset_min, w.offset_max) for w in a.effects.packet_writes}
    alone = {(w.insn, w.offset_min, w.offset_max) for w in static_only.effects.packet_writes}
    for (i, lo, hi), (j, slo, shi) in zip(sorted(both), sorted(alone), strict=True):
        assert i == j and lo <= slo and (hi is None or (shi is not None and hi >= shi))


def test_jmp32_against_a_register_compares_low_halves() -> None:
    # if w5 > w6 with r6 = 0x1_0000_0005: the jump is taken for r5 in 6..255.
    body = (
        op(0x71, 5, 2, 14)
        + ld_imm64(6, 0x1_0000_0005)
        + op(0x2E, 5, 6, 1)  # if w5 > w6 goto +1
        + op(0x05, off=2)  # goto out
        + op(0x0F, 2, 5)
        + op(0x72, 2, 0, 0, 0)
    )
    assert spans(static(guarded(body))) == {(11, 6, 255, "store")}


def test_signed_division_is_not_taken_for_unsigned() -> None:
    # r5 = -8 s/ 2 = -4; data - 4 + 10 is byte 6.
    body = (
        op(0xB7, 5, imm=-8)
        + op(0xB7, 6, imm=2)
        + op(0x3F, 5, 6, 1)  # r5 s/= r6
        + op(0x0F, 2, 5)
        + op(0x72, 2, 0, 10, 0)
    )
    ((_, lo, hi, _),) = spans(static(guarded(body)))
    assert lo <= 6 and (hi is None or hi >= 6)


@pytest.mark.parametrize(
    ("helper", "name", "moves"),
    [
        (39, "bpf_skb_pull_data", False),
        (54, "bpf_xdp_adjust_meta", False),
        (38, "bpf_skb_change_tail", True),
        (44, "bpf_xdp_adjust_head", True),
    ],
)
def test_helpers_on_the_kernels_changes_data_list_are_never_read_only(
    helper: int, name: str, moves: bool
) -> None:
    # bpf_skb_pull_data(skb, 0) changes no byte we can see, but it is on
    # bpf_helper_changes_pkt_data(): condition 4 of the contract. It leaves
    # every byte and the length, so the flow key is what it was; a call that
    # moves bytes may change any field.
    a = static(op(0xB7, 2, imm=0) + op(0x85, 0, 0, 0, helper) + RET0)
    assert a.effects.static_verdict == "writes"
    assert [(c.helper, c.moves_bytes) for c in a.effects.length_changes] == [(name, moves)]
    assert a.effects.flow_key_affected == moves


def test_sign_extending_loads_can_be_huge() -> None:
    # r5 = *(s8 *)(r2 +0); if r5 <= 255 goto out; skb->mark = 7 (r6 = ctx)
    body = op(0x91, 5, 2, 0) + op(0xB5, 5, 0, 1, 255) + op(0x62, 6, 0, 8, 7)
    a = static(op(0xBF, 6, 1) + guarded(body))
    assert [m.field for m in a.effects.metadata_writes] == ["meta.mark"]


def test_right_shift_by_a_register_of_64_keeps_the_value() -> None:
    # r4 = 0x100; r5 = 64; r4 >>= r5 (masked: by 0); if r4 <= 5 goto out; mark = 7
    code = (
        op(0xB7, 4, imm=0x100)
        + op(0xB7, 5, imm=64)
        + op(0x7F, 4, 5)
        + op(0xB5, 4, 0, 1, 5)
        + op(0x62, 1, 0, 8, 7)
        + RET0
    )
    assert [m.field for m in static(code).effects.metadata_writes] == ["meta.mark"]


def test_uninitialised_stack_joins_to_any_number() -> None:
    # if r2 != 0 goto +2 (skip the store); *(u64 *)(r10 -8) = 0; r4 = fill;
    # if r4 <= 5 goto out; skb->mark = 7. Root may read the unset slot.
    code = (
        op(0xB7, 2, imm=0)
        + op(0x61, 2, 1, 0)  # r2 = skb->len
        + op(0x55, 2, 0, 1, 0)  # if r2 != 0 goto +1
        + op(0x7A, 10, 0, -8, 0)  # *(u64 *)(r10 -8) = 0
        + op(0x79, 4, 10, -8)
        + op(0xB5, 4, 0, 1, 5)
        + op(0x62, 1, 0, 8, 7)
        + RET0
    )
    assert [m.field for m in static(code).effects.metadata_writes] == ["meta.mark"]


def test_a_helper_writing_a_stack_variable_forgets_its_value() -> None:
    # *(u64 *)(fp-8) = 0; bpf_skb_load_bytes(skb, 0, fp-8, 8); r4 = fill;
    # if r4 <= 5 goto out; skb->mark = 7
    code = (
        op(0xBF, 6, 1)
        + op(0x7A, 10, 0, -8, 0)
        + op(0xB7, 2, imm=0)
        + op(0xBF, 3, 10)
        + op(0x07, 3, imm=-8)
        + op(0xB7, 4, imm=8)
        + op(0x85, 0, 0, 0, 26)
        + op(0x79, 4, 10, -8)
        + op(0xB5, 4, 0, 1, 5)
        + op(0x62, 6, 0, 8, 7)
        + RET0
    )
    assert [m.field for m in static(code).effects.metadata_writes] == ["meta.mark"]


def test_instructions_only_the_verifier_reached_make_the_answer_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A static analysis that prunes a branch the kernel explored cannot vouch
    # for it: simulate one that missed instruction 12 of map_lookup.
    import dataclasses

    from analyzer import effects as module

    real = module.analyze_provenance

    def pruning(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(result, reached=result.reached - {12})

    monkeypatch.setattr(module, "analyze_provenance", pruning)
    a = analyze_fixture("map_lookup")
    assert a.effects.verdict == "unknown"
    assert any("did not reach (12)" in r for r in a.effects.reasons), a.effects.reasons


def test_context_stores_the_log_shows_count_too() -> None:
    # The log types insn 12's base as the context at the mark's offset.
    _, log = fixture("map_lookup")
    lines = log.splitlines()
    (i, line) = next((i, ln) for i, ln in enumerate(lines) if ln.startswith("12: (7b)"))
    lines[i] = line.split(" ; ")[0] + " ; R0=ctx(off=8)"
    a = analyze_fixture("map_lookup", log="\n".join(lines))
    assert [m.field for m in a.effects.metadata_writes] == ["meta.mark"]
    assert a.effects.verdict == "writes"
