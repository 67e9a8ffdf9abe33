"""The level-2 verifier-log parser, on logs captured from Linux 6.18.

Every fixture in data/logs/ is a real log: NAME.c was built and loaded by
data/logs/capture.py, which wrote NAME.log (or NAME.log.gz) and, for accepted
programs, NAME.insns (the instructions as libbpf loaded them). These tests
read only those files.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import LogError
from analyzer.verifier_log import (
    UNKNOWN,
    InsnState,
    ParsedLog,
    RegType,
    check_program,
    parse_log,
    parse_log_strict,
    parse_reg_type,
    summarize,
)

LOGS = Path(__file__).parent / "data" / "logs"
ACCEPTED = (
    "action_dec_ttl",
    "action_port_counter",
    "action_port_filter",
    "branch_twice",
    "dynptr_kfunc",
    "fixed_write",
    "global_func",
    "helper_calls",
    "map_lookup",
    "spill_fill",
    "subprog_call",
    "var_offset",
)
ALL = (*ACCEPTED, "rejected")
# "*(u8 *)(r1 +22) = r3", "lock *(u64 *)(r0 +0) += r1": the base register.
_STORE = re.compile(r"^(?:lock )?\*\(u\d+ \*\)\(r(\d+) ([+-]\d+)\)")


@cache
def log_text(stem: str) -> str:
    plain = LOGS / f"{stem}.log"
    if plain.exists():
        return plain.read_text()
    return gzip.decompress((LOGS / f"{stem}.log.gz").read_bytes()).decode()


@cache
def parsed(stem: str) -> ParsedLog:
    return parse_log(log_text(stem).splitlines())


@cache
def program(stem: str) -> tuple[int, list[int]]:
    """Slot count and opcode byte per slot of the program the log belongs to."""
    raw = (LOGS / f"{stem}.insns").read_bytes()
    return len(raw) // 8, [raw[i] for i in range(0, len(raw), 8)]


def visits(stem: str, insn: int) -> list[InsnState]:
    return [s for s in parsed(stem).insns if s.insn == insn]


def only(stem: str, insn: int) -> InsnState:
    (state,) = visits(stem, insn)
    return state


def is_store(state: InsnState) -> bool:
    # BPF_ST / BPF_STX in mode BPF_MEM or BPF_ATOMIC.
    return state.opcode & 0x07 in (0x02, 0x03) and state.opcode & 0xE0 in (0x60, 0xC0)


def store_base(state: InsnState) -> tuple[RegType, int]:
    """The base register's type and the instruction's own offset of a store."""
    m = _STORE.match(state.text)
    assert m, state.text
    return state.reg(int(m.group(1))), int(m.group(2))


def packet_stores(stem: str) -> set[tuple[int, int]]:
    """(instruction, byte offset from the start of the packet) of every packet store."""
    found = set()
    for s in parsed(stem).insns:
        if is_store(s):
            base, off = store_base(s)
            if base.is_packet:
                found.add((s.insn, base.off + off))
    return found


# --- every fixture ------------------------------------------------------------


@pytest.mark.parametrize("stem", ALL)
def test_fixture_logs_are_whole(stem: str) -> None:
    p = parsed(stem)
    assert p.complete and p.insns
    # At level 2 every processed instruction is printed, as an instruction
    # line or as "N: safe": the trailer's count is a checksum of the log.
    assert p.processed_insns == p.visits
    assert p.insn_limit == 1_000_000
    assert p.verification_time_us is not None and p.stack_depth


@pytest.mark.parametrize("stem", ACCEPTED)
def test_accepted_logs_belong_to_their_programs(stem: str) -> None:
    p = parsed(stem)
    assert not p.rejected and p.error is None
    assert p.unrecognized == 0
    count, opcodes = program(stem)
    assert check_program(p, count, opcodes) is None
    # The 6.18 "Live regs before insn:" listing names every instruction once
    # and is not taken for explored instructions.
    assert p.listing == {i: op for i, op in enumerate(opcodes) if op}  # ld_imm64: 2nd slot is 0


@pytest.mark.parametrize("stem", ACCEPTED)
def test_every_store_on_every_path_has_a_known_base(stem: str) -> None:
    for s in parsed(stem).insns:
        if is_store(s):
            base, _ = store_base(s)
            assert base.kind not in ("unknown", "scalar"), (s.insn, s.text, base)


def test_foreign_log_is_detected() -> None:
    count, opcodes = program("fixed_write")
    reason = check_program(parsed("var_offset"), count, opcodes)
    assert reason is not None and ("another program" in reason or "has 11" in reason)
    count, opcodes = program("action_port_filter")
    reason = check_program(parsed("action_dec_ttl"), count, opcodes)
    assert reason is not None and "another program" in reason


def test_log_longer_than_program_is_detected() -> None:
    _, opcodes = program("action_dec_ttl")
    reason = check_program(parsed("action_dec_ttl"), 50, opcodes[:50])
    assert reason == "the log names instruction 50 but the program has 50"


def test_rotated_tail_is_detected() -> None:
    # A log kept from its end (rotating log mode) has the trailer but not
    # every instruction: the count does not add up.
    lines = log_text("action_dec_ttl").splitlines()
    tail = parse_log(lines[len(lines) // 2 :])
    assert tail.complete
    count, opcodes = program("action_dec_ttl")
    reason = check_program(tail, count, opcodes)
    assert reason is not None and "lines are missing" in reason


@pytest.mark.parametrize("stem", ["fixed_write", "subprog_call", "rejected"])
def test_a_log_cut_at_any_line_is_incomplete(stem: str) -> None:
    lines = log_text(stem).splitlines()
    for cut in range(len(lines)):
        p = parse_log(lines[:cut])
        assert not p.complete, cut
        if p.insns and stem != "rejected":
            count, opcodes = program(stem)
            assert check_program(p, count, opcodes) is not None


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ALL), st.floats(min_value=0.0, max_value=0.999))
def test_big_logs_cut_anywhere_are_incomplete(stem: str, where: float) -> None:
    lines = log_text(stem).splitlines()
    cut = int(len(lines) * where)
    assert not parse_log(lines[:cut]).complete


# --- what each fixture proves -------------------------------------------------


def test_fixed_offset_write() -> None:
    s = only("fixed_write", 8)
    assert s.text == "*(u8 *)(r1 +15) = r2"
    base, off = store_base(s)
    assert (base.kind, base.off, base.range, off) == ("pkt", 0, 34, 15)
    assert base.bounds() == (0, 0)
    assert s.printed == {1, 2} and s.frame == 0 and s.path == 0
    assert s.source is not None
    assert (s.source.file, s.source.line) == ("fixed_write.c", 16)
    assert s.source.text.startswith("data[15] = data[22];")
    assert packet_stores("fixed_write") == {(7, 22), (8, 15)}
    # The register state on the line "0: R1=ctx() R10=fp0" starts the path.
    first = only("fixed_write", 0)
    assert first.reg(1).kind == "ctx" and first.reg(2).kind == "pkt_end"
    assert first.reg(10) == RegType(kind="fp", raw="fp0", name="fp", off=0)


def test_variable_offset_write() -> None:
    s = only("var_offset", 14)
    base, off = store_base(s)
    assert (base.kind, base.off, base.id, base.range, off) == ("pkt", 14, 1, 22, 7)
    assert (base.umax, base.var_off) == (60, (0, 0x3C))
    assert base.bounds() == (0, 60)  # IHL * 4 of a header the program parsed
    # "9: (0f) r2 += r3" has no state on its line; the kernel prints it on
    # the next line ("10: R2=pkt(id=1,...) R3=..."), after mark_precise.
    add = only("var_offset", 9)
    assert add.printed == {2, 3}
    assert add.reg(2).var_off == (0, 0x3C) and add.reg(2).range == 0


def test_spill_and_fill_of_a_packet_pointer() -> None:
    spill = only("spill_fill", 6)
    assert spill.text == "*(u64 *)(r10 -8) = r1"
    base, off = store_base(spill)
    assert (base.kind, base.off, off) == ("fp", 0, -8)
    assert spill.reg(1).kind == "pkt" and spill.reg(1).off == 12
    assert spill.stack[-8] == parse_reg_type("pkt(off=12,r=14)")
    fill = only("spill_fill", 8)
    assert fill.text == "r2 = *(u64 *)(r10 -8)"
    assert (fill.reg(2).kind, fill.reg(2).off, fill.reg(2).range) == ("pkt", 12, 14)
    # The write through the filled pointer lands on byte 13 (eth.type).
    assert packet_stores("spill_fill") == {(9, 13)}
    # Other paths start from their own state: no spilled slot on path 1.
    assert all(not s.stack for s in parsed("spill_fill").insns if s.path == 1)


def test_bpf_to_bpf_call_with_a_packet_pointer() -> None:
    p = parsed("subprog_call")
    assert p.subprogs == {0: 0, 1: 9}
    call = visits("subprog_call", 5)[0]
    assert (call.text, call.frame) == ("call pc+3", 0)
    # After the call the caller's R1-R5 are gone ("caller:" block).
    assert set(call.regs) == {10}
    entry = visits("subprog_call", 9)[0]
    assert entry.frame == 1 and entry.path == 0
    assert (entry.reg(1).kind, entry.reg(1).off) == ("pkt", 14)
    store = only("subprog_call", 14)
    base, off = store_base(store)
    assert (store.frame, base.kind, base.off, off) == (1, "pkt", 14, 8)
    # Back in the caller on the same path ("from 16 to 6" after a return
    # continues the path); the callee's frame is gone.
    back = [s for s in visits("subprog_call", 6) if s.path == 0]
    assert len(back) == 1 and back[0].frame == 0 and back[0].reg(0).value == 0
    # The path that starts inside the callee knows its own frame only.
    branch = [s for s in visits("subprog_call", 16) if s.path == 1]
    assert branch[0].frame == 1 and branch[0].reg(3).kind == "pkt"


def test_global_function_is_verified_on_its_own() -> None:
    p = parsed("global_func")
    call = only("global_func", 0)
    assert call.text == "call pc+6" and call.func == 0
    after = visits("global_func", 1)[0]
    assert after.reg(0).kind == "scalar"
    assert after.reg(1).kind == "scalar"  # printed by "1: (bc) w1 = w0"
    assert 2 not in after.regs  # clobbered by the call, never printed again
    body = [s for s in p.insns if s.func == 1]
    assert {s.insn for s in body} == set(range(7, 20))
    assert all(s.frame == 0 for s in body)
    assert body[0].reg(1).kind == "ctx"
    assert packet_stores("global_func") == {(15, 22)}
    ctx_store = only("global_func", 17)
    assert store_base(ctx_store)[0].kind == "ctx"  # skb->mark


def test_map_lookup_null_check() -> None:
    lookup = only("map_lookup", 7)
    r0 = lookup.reg(0)
    assert (r0.kind, r0.id) == ("map_value_or_null", 1)
    assert ("map", "counts") in r0.extra and ("vs", "8") in r0.extra
    checked = only("map_lookup", 8)
    assert checked.reg(0).kind == "map_value"
    base, _ = store_base(only("map_lookup", 12))
    assert base.kind == "map_value"
    assert packet_stores("map_lookup") == set()


def test_branch_explored_twice() -> None:
    stores = visits("branch_twice", 12)
    assert [s.path for s in stores] == [0, 1]
    assert [store_base(s)[0].off for s in stores] == [0, 4]  # with and without VLAN
    assert packet_stores("branch_twice") == {(12, 15), (12, 19)}
    assert parsed("branch_twice").paths == 3


def test_rejected_program() -> None:
    p = parsed("rejected")
    assert p.rejected and p.complete
    assert p.error == "invalid access to packet, off=22 size=1, R2(id=0,off=22,r=14)"
    assert p.error_lines[1] == "R2 offset is outside of the packet"
    last = p.insns[-1]
    assert (last.insn, last.path, last.printed) == (11, 2, frozenset())
    assert last.reg(2).range == 14  # the range that made the store fail
    assert summarize(log_text("rejected")).insn == last.insn


def test_helper_that_changes_packet_data_invalidates_pointers() -> None:
    # bpf_get_prandom_u32 keeps R7=pkt; bpf_skb_store_bytes makes it a scalar
    # without printing it (seen on path 1: "R7=scalar()").
    assert only("helper_calls", 3).reg(7).kind == "pkt"
    call = only("helper_calls", 16)
    assert call.text == "call bpf_skb_store_bytes#9"
    assert call.reg(7).kind == "unknown" and call.reg(8).kind == "unknown"
    assert call.reg(6).kind == "ctx"
    assert {1, 2, 3, 4, 5} & set(call.regs) == set()
    later = next(s for s in visits("helper_calls", 24) if s.path == 1)
    assert later.reg(7).kind == "scalar"
    assert packet_stores("helper_calls") == {(9, 15), (23, 23)}


def test_dynptr_kfuncs() -> None:
    made = only("dynptr_kfunc", 3)
    assert made.text == "call bpf_dynptr_from_skb#63857"
    assert made.stack[-16].name == "dynptr_skb" and made.stack[-16].kind == "other"
    assert only("dynptr_kfunc", 11).reg(0).name == "mem_or_null"
    # A store through a dynptr slice is a store through "mem", not "pkt":
    # only the kfunc table (bpf_dynptr_slice_rdwr writes) sees the effect.
    base, _ = store_base(only("dynptr_kfunc", 14))
    assert (base.kind, base.name) == ("other", "mem")
    assert packet_stores("dynptr_kfunc") == set()


def test_real_actions() -> None:
    # dec_ttl: TTL (+8) and checksum (+10) behind 0, 1 or 2 VLAN tags, and
    # the IPv6 hop limit (+7).
    assert {off for _, off in packet_stores("action_dec_ttl")} == {
        14 + 8,
        18 + 8,
        22 + 8,
        14 + 10,
        18 + 10,
        22 + 10,
        14 + 7,
        18 + 7,
        22 + 7,
    }
    # Insn 95 is followed by "96: safe": no state is printed after it, the
    # base register comes from earlier lines of the same path.
    pruned = [s for s in visits("action_dec_ttl", 95) if not s.printed]
    assert pruned and all(store_base(s)[0].kind == "pkt" for s in pruned)
    assert packet_stores("action_port_counter") == set()
    assert packet_stores("action_port_filter") == set()
    assert parsed("action_port_filter").paths > 1000


# --- formats ------------------------------------------------------------------

_SYNTHETIC = """\
func#0 @0
0: R1=ctx() R10=fp0
; data[15] = 1; @ a.c:5
0: (61) r2 = *(u32 *)(r1 +76)         ; R1{w}=ctx() R2{w}=pkt(r=0)
1: (bf) r1 = r2                       ; R1{w}=pkt(r=34) R2{w}=pkt(r=34)
2: (73) *(u8 *)(r1 +15) = r2          ; R1=pkt(r=34) R2=pkt(r=34) fp-8{w}=mmmm????
3: (95) exit
processed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0
"""


def test_old_w_suffix_parses_like_the_new_form() -> None:
    new = parse_log(_SYNTHETIC.format(w="").splitlines())
    old = parse_log(_SYNTHETIC.format(w="_w").splitlines())
    assert new.complete and old.complete
    assert [(s.insn, s.regs, s.stack, s.printed) for s in new.insns] == [
        (s.insn, s.regs, s.stack, s.printed) for s in old.insns
    ]
    assert old.insns[2].reg(1) == parse_reg_type("pkt(r=34)")


def test_5x_style_log() -> None:
    ctx = "R1=ctx(id=0,off=0,imm=0)"
    text = [
        f"0: {ctx} R10=fp0",
        "0: (61) r2 = *(u32 *)(r1 +76)",
        f"1: {ctx} R2_w=pkt(id=0,off=0,r=0,imm=0) R10=fp0",
        "1: (71) r3 = *(u8 *)(r2 +14)",
        # Level-2 noise of older kernels (precision backtracking).
        "last_idx 1 first_idx 0",
        "regs=4 stack=0 before 0: (61) r2 = *(u32 *)(r1 +76)",
        "parent didn't have regs=4 stack=0 marks",
        "propagating r6",
        f"2: {ctx} R2_w=pkt(id=0,off=0,r=34,imm=0)"
        " R3_w=inv(id=0,umax_value=255,var_off=(0x0; 0xff)) R10=fp0",
        "2: (95) exit",
        "processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0",
    ]
    p = parse_log(text)
    assert p.complete and not p.rejected and p.unrecognized == 0
    assert p.processed_insns == p.visits
    load = p.insns[1]
    assert load.printed == {1, 2, 3, 10}
    assert load.reg(3).kind == "scalar" and load.reg(3).bounds() == (0, 255)
    assert load.reg(2).kind == "pkt" and load.reg(2).range == 34


@pytest.mark.parametrize(
    ("text", "kind", "off", "range_", "value"),
    [
        ("pkt(off=14,r=34)", "pkt", 14, 34, None),
        ("pkt(r=0)", "pkt", 0, 0, None),
        ("pkt_meta(off=-4,r=0)", "pkt_meta", -4, 0, None),
        ("pkt_end()", "pkt_end", 0, None, None),
        ("pkt_end", "pkt_end", 0, None, None),
        ("ctx()", "ctx", 0, None, None),
        ("fp0", "fp", 0, None, None),
        ("fp-8", "fp", -8, None, None),
        ("fp[1]-16", "fp", -16, None, None),
        ("map_ptr(map=counts,ks=4,vs=8)", "map_ptr", 0, None, None),
        ("map_value(map=counts,ks=4,vs=8,off=4)", "map_value", 4, None, None),
        ("map_value_or_null(id=1,map=counts,ks=4,vs=8)", "map_value_or_null", 0, None, None),
        ("map_key(ks=4,vs=8)", "map_key", 0, None, None),
        ("0", "scalar", 0, None, 0),
        ("-1", "scalar", 0, None, -1),
        ("0xffffffff", "scalar", 0, None, 0xFFFFFFFF),
        ("P0", "scalar", 0, None, 0),
        ("scalar()", "scalar", 0, None, None),
        (
            "Pscalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))",
            "scalar",
            0,
            None,
            None,
        ),
        ("inv16", "scalar", 0, None, 16),
        ("invP0", "scalar", 0, None, 0),
        ("mmmm????", "scalar", 0, None, None),
        ("dynptr_skb(id=1,dynptr_id=1)", "other", 0, None, None),
        ("mem(sz=4)", "other", 0, None, None),
        ("trusted_ptr_sk_buff()", "other", 0, None, None),
        ("ptr_or_null_sock(id=2,ref_obj_id=2)", "other", 0, None, None),
        ("?", "unknown", 0, None, None),
    ],
)
def test_reg_type_table(
    text: str, kind: str, off: int, range_: int | None, value: int | None
) -> None:
    t = parse_reg_type(text)
    assert (t.kind, t.off, t.range, t.value, t.raw) == (kind, off, range_, value, text)


def test_reg_type_bounds_and_ids() -> None:
    t = parse_reg_type("scalar(id=5-1,smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=254)")
    assert (t.id, t.smin, t.umin32, t.smax, t.umax32) == (5, 1, 1, 254, 254)
    assert ("id_delta", "-1") in t.extra
    assert t.bounds() == (1, 254)
    assert parse_reg_type("Pscalar(smin=0,smax=7)").precise
    assert parse_reg_type("scalar()").bounds() is None
    assert parse_reg_type("-1").bounds() == (2**64 - 1, 2**64 - 1)
    assert parse_reg_type("pkt(id=0,off=0,r=34,imm=0)").bounds() == (0, 0)
    assert parse_reg_type("pkt(off=2,var_off=(0x0; 0x3c))").bounds() == (0, 0x3C)
    assert not parse_reg_type("pkt_end()").is_packet
    assert parse_reg_type("pkt_meta(r=0)").is_packet


# --- not a log ----------------------------------------------------------------


def test_text_that_is_not_a_log() -> None:
    p = parse_log(["hello", "world: (zz) nothing", "0: not a state"])
    assert not p.insns and not p.complete and not p.rejected
    assert p.unrecognized == 3
    with pytest.raises(LogError):
        parse_log_strict(["hello"])
    with pytest.raises(LogError):
        parse_log_strict([])


def test_inputs_accepted() -> None:
    text = log_text("fixed_write")
    assert parse_log(text) == parsed("fixed_write")
    with (LOGS / "fixed_write.log").open() as f:
        assert parse_log(f) == parsed("fixed_write")
    assert parse_log_strict(text.splitlines()) == parsed("fixed_write")


def test_level1_logs() -> None:
    # The older fixtures next door: a level-1 rejection and a level-2 log of
    # 6.18 with liveness lines.
    data = Path(__file__).parent / "data"
    rejected = parse_log((data / "reject_pkt.log").read_text())
    assert rejected.rejected and rejected.complete
    assert rejected.error == "invalid access to packet, off=12 size=1, R1(id=0,off=12,r=0)"
    ok = parse_log((data / "two_progs_ok.log").read_text())
    assert ok.complete and not ok.rejected and ok.processed_insns == ok.visits


def test_unknown_register_is_unknown() -> None:
    s = only("fixed_write", 0)
    assert s.reg(7) is UNKNOWN


def assert_total(lines: list[str]) -> ParsedLog:
    """Parse ``lines`` both ways: only LogError, and only for text with nothing of a log."""
    p = parse_log(lines)
    if p.insns or p.complete:
        assert parse_log_strict(lines) == p
    else:
        with pytest.raises(LogError):
            parse_log_strict(lines)
    return p


_FRAGMENTS = st.sampled_from(
    [
        line
        for stem in ("subprog_call", "rejected", "dynptr_kfunc")
        for line in log_text(stem).splitlines()
    ]
)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    assert_total(text.splitlines())


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(_FRAGMENTS, st.integers(0, 200), st.integers(0, 200), st.text(max_size=8)),
        max_size=40,
    )
)
def test_mangled_log_lines_never_raise(pieces: list[tuple[str, int, int, str]]) -> None:
    # Real lines, cut and spliced with junk: the parser must stay total.
    lines = [line[a:] + junk + line[:b] for line, a, b, junk in pieces]
    assert len(assert_total(lines).error_lines) <= 20
