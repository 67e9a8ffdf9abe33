"""The pure parts of ``python -m bench dpdk``: features, helper remapping, DPDK's log.

Nothing here needs DPDK or the kernel; the part itself is run by hand
(bench/README.md), DPDK not being part of the project's set-up.
"""

from __future__ import annotations

import struct

import pytest

from analyzer.insn import decode
from bench import dpdk
from bench.common import RunOptions


def _slot(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, src << 4 | dst, off, imm)


PROGRAM = b"".join(
    [
        _slot(0x18, 1, 1, imm=4),  # r1 = map_by_fd(4) ll
        _slot(0),
        _slot(0x85, imm=26),  # call skb_load_bytes
        _slot(0x16, 1, off=1),  # if w1 == 0 goto +1
        _slot(0x85, imm=1),  # call map_lookup_elem
        _slot(0xDB, 1, 2, imm=0x00),  # lock *(u64 *)(r1 +0) += r2
        _slot(0xDB, 1, 2, imm=0xF1),  # cmpxchg
        _slot(0x85, src=1, imm=1),  # call pc+1
        _slot(0x95),
        _slot(0x85, imm=26),
        _slot(0x95),
    ]
)


def test_features_count_each_kind() -> None:
    f = dpdk.features_of(decode(PROGRAM))
    assert (f.jmp32, f.bpf_calls, f.kfunc_calls, f.atomic_adds, f.map_refs) == (1, 1, 0, 1, 1)
    assert f.atomics == ("cmpxchg64 ×1",)
    assert f.helpers == (1, 26)
    assert f.helper_text() == "1 map_lookup_elem, 26 skb_load_bytes"


def test_remapping_rewrites_helper_calls_only() -> None:
    insns = decode(PROGRAM)
    out = decode(dpdk.remap_helpers(insns, (1, 26)))
    calls = [(i.src, i.imm) for i in out if i.is_call()]
    assert calls == [(0, 1), (0, 0), (1, 1), (0, 1)]
    assert [i.opcode for i in out] == [i.opcode for i in insns]


def test_dpdk_log_lines_become_reasons_with_their_pc() -> None:
    log = [
        "validate: invalid opcode at pc: 7",
        "validate: invalid src-reg field at pc: 9",
        "validate(0x7fff10766e90) loops detected;",
        "loop at pc:2 --> pc:1;",
        "rte_bpf_load(0x7fff10766e90) failed, error code: -22;",
    ]
    assert dpdk.parse_refusals(log) == (
        dpdk.Refusal("validate: invalid opcode", 7),
        dpdk.Refusal("validate: invalid src-reg field", 9),
        dpdk.Refusal("validate: loops detected", 2),
    )
    only = ["rte_bpf_load(0x1) failed, error code: -12;"]
    assert dpdk.parse_refusals(only) == (dpdk.Refusal(only[0], None),)


def test_a_missing_library_names_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(dpdk, "LIBRARY", "librte_bpf_no_such.so.0")
    assert dpdk.main(RunOptions()) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "apt-get install -y librte-bpf23" in err
