"""The control-flow graph: successors, functions, blocks, and code the kernel would refuse."""

from __future__ import annotations

import struct

import pytest

from analyzer.cfg import build_cfg
from analyzer.errors import AnalyzerError, CfgError
from analyzer.insn import decode


def op(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


RET0 = op(0xB7, 0) + op(0x95)


def test_branch_blocks_and_successors() -> None:
    # 0: if r1 == 0 goto +1; 1: r0 = 1; 2: r0 = 0 ... 3: exit
    code = op(0x15, 1, 0, 1, 0) + op(0xB7, 0, imm=1) + RET0
    cfg = build_cfg(decode(code), [0])
    assert cfg.successors(0) == (1, 2)
    assert cfg.successors(3) == ()
    assert [(b.start, b.insns, b.succs) for b in cfg.blocks()] == [
        (0, (0,), (1, 2)),
        (1, (1,), (2,)),
        (2, (2, 3), ()),
    ]


def test_calls_and_callbacks_make_functions_and_entries() -> None:
    # 0: call +2 (-> 3); 1-2: ret; 3: r1 = &fn (-> 7) (ld_imm64 3-4); 5-6: ret; 7-8: ret
    code = op(0x85, 0, 1, 0, 2) + RET0 + op(0x18, 1, 4, 0, 3) + op(0, 0, 0, 0, 0) + RET0 + RET0
    cfg = build_cfg(decode(code), [3, 7])
    assert cfg.callee(0) == 3
    assert dict(cfg.functions) == {0: 3, 3: 7, 7: 9}
    assert cfg.entries == (0, 7)
    assert cfg.reachable == frozenset({0, 1, 2, 3, 5, 6, 7, 8})
    assert cfg.function_of(5) == 3


@pytest.mark.parametrize(
    ("code", "starts", "words"),
    [
        (op(0x05, off=3) + RET0, [0], "leaves its function"),
        (op(0xB7, 0), [0], "must exit or jump"),
        (op(0x05, off=1) + op(0x18) + op(0) + RET0, [0], "leaves its function"),
        (op(0x85, 0, 1, 0, 0) + RET0, [0], "does not start a function"),
        (op(0x15, 1, 0, -1, 0), [0], "falls off"),
        (b"", [0], "no instructions"),
    ],
)
def test_code_the_kernel_refuses_raises_cfg_error(
    code: bytes, starts: list[int], words: str
) -> None:
    with pytest.raises(CfgError, match=words) as info:
        build_cfg(decode(code), starts)
    assert isinstance(info.value, AnalyzerError)
