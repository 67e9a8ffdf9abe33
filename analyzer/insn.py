"""The analyzer's own table-driven decoder of eBPF bytecode (the authority).

Every 8-byte slot is ``opcode:u8 | src:4 dst:4 | off:s16 | imm:s32``
(little-endian); ``ld_imm64`` (opcode 0x18) takes two slots. The valid
instructions are listed in data tables below, each with the source it comes
from. What is not in a table -- a reserved opcode, a size a class does not
have, an unknown atomic operation, a reserved field that is not zero, a
register above r10 -- decodes to an ``Insn`` with ``known`` False and a
``reason``: never a guess and never an exception, so the verdict layer can
answer ``unknown``. Only structural damage raises ``DecodeError``.

The acceptance rules mirror the kernel, which is what matters for a loaded
program: the opcode list is ``bpf_opcode_in_insntable()`` (kernel/bpf/core.c),
the reserved-field rules are ``check_insn_fields()`` and
``check_and_resolve_insns()`` (kernel/bpf/verifier.c), the semantics are
Documentation/bpf/standardization/instruction-set.rst (ISA up to cpu v4) plus
load-acquire/store-release (kernel commit 880442305a39, Linux 6.15).

Conventions:

* ``mnemonic`` follows the GNU assembler's "normal" BPF syntax
  (binutils gas/doc/c-bpf.texi): ``add``/``add32``, ``movs``/``movs32``,
  ``ldxw``, ``stxdw``, ``aadd``, ``afadd32``, ``acmp``, ``ldacqb``, ``lddw``.
* ``text()`` follows llvm-objdump's pseudo-C, with the kernel verifier log's
  tight memory offsets: ``*(u8 *)(r1 +15) = r2``, ``if w2 > w3 goto +5``,
  ``lock *(u64 *)(r1 +0) += r2``, ``r1 = 0x2a ll``. Where llvm-objdump has no
  syntax (pseudo calls, kfuncs, ld_imm64 pseudo sources) it borrows the
  kernel's (``call pc+5``) or the ISA document's (``map_by_fd(3)``).
* ``capstone_text()`` renders the same bytes with capstone, for display and
  cross-checking only: capstone mislabels or drops several v3/v4 forms.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from analyzer.errors import DecodeError

__all__ = [
    "BPF_PSEUDO_BTF_ID",
    "BPF_PSEUDO_CALL",
    "BPF_PSEUDO_FUNC",
    "BPF_PSEUDO_KFUNC_CALL",
    "BPF_PSEUDO_MAP_FD",
    "BPF_PSEUDO_MAP_IDX",
    "BPF_PSEUDO_MAP_IDX_VALUE",
    "BPF_PSEUDO_MAP_VALUE",
    "SLOT_SIZE",
    "Insn",
    "capstone_text",
    "decode",
    "decode_one",
    "encode",
]

SLOT_SIZE = 8
"""Bytes per instruction slot; ld_imm64 uses two slots."""

# --- Encoding constants: include/uapi/linux/bpf_common.h and bpf.h ---------

# Instruction classes (low 3 bits of the opcode).
BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_JMP32, BPF_ALU64 = range(8)
_CLASS_NAMES = ("LD", "LDX", "ST", "STX", "ALU", "JMP", "JMP32", "ALU64")

# Source operand bit of ALU/JMP opcodes; for BPF_END it selects the byte order.
BPF_K, BPF_X = 0x00, 0x08
BPF_TO_LE, BPF_TO_BE = 0x00, 0x08

# Size and mode bits of load/store opcodes.
BPF_W, BPF_H, BPF_B, BPF_DW = 0x00, 0x08, 0x10, 0x18
BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM, BPF_MEMSX, BPF_ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0

# ALU operation codes (high 4 bits).
BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV = 0x00, 0x10, 0x20, 0x30
BPF_OR, BPF_AND, BPF_LSH, BPF_RSH = 0x40, 0x50, 0x60, 0x70
BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV = 0x80, 0x90, 0xA0, 0xB0
BPF_ARSH, BPF_END = 0xC0, 0xD0

# Jump operation codes (high 4 bits).
BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE = 0x00, 0x10, 0x20, 0x30
BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE = 0x40, 0x50, 0x60, 0x70
BPF_CALL, BPF_EXIT, BPF_JLT, BPF_JLE = 0x80, 0x90, 0xA0, 0xB0
BPF_JSLT, BPF_JSLE, BPF_JCOND = 0xC0, 0xD0, 0xE0

# The imm of BPF_STX|BPF_ATOMIC.
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
BPF_LOAD_ACQ = 0x100
BPF_STORE_REL = 0x110

# src of ld_imm64 (BPF_LD|BPF_IMM|BPF_DW).
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_BTF_ID = 3
BPF_PSEUDO_FUNC = 4
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6

# src of BPF_JMP|BPF_CALL.
BPF_HELPER_CALL = 0
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

BPF_MAY_GOTO = 0  # src of BPF_JMP|BPF_JCOND
BPF_ADDR_SPACE_CAST = 1  # off of BPF_ALU64|BPF_MOV|BPF_X (arena pointers, Linux 6.9)

LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW  # 0x18
MAX_REG = 10  # r0..r10; r11 is the kernel-internal AX register

_MASK32 = 0xFFFF_FFFF
_SLOT = struct.Struct("<BBhi")


# --- Table entries ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    """One valid instruction form: its name, rendering and reserved fields."""

    mnemonic: str
    template: str  # str.format() over the placeholders built in Insn.text()
    zero: tuple[str, ...] = ()  # fields the kernel rejects unless 0
    imm_in: frozenset[int] | None = None  # allowed imm values, when restricted
    next_imm_zero: bool = False  # ld_imm64: the second slot's imm must be 0


@dataclass(frozen=True, slots=True)
class _Select:
    """An opcode whose form is chosen by the value of one more field."""

    by: str  # "off", "imm" or "src"
    what: str  # names the field's role in reasons
    choices: Mapping[int, _Spec]


_Entry = _Spec | _Select

# Size bits -> (gas suffix, bytes, unsigned C type, signed C type for MEMSX).
# instruction-set.rst "Load and store instructions"; MEMSX has no DW form.
_SIZES: dict[int, tuple[str, int, str, str | None]] = {
    BPF_B: ("b", 1, "u8", "s8"),
    BPF_H: ("h", 2, "u16", "s16"),
    BPF_W: ("w", 4, "u32", "s32"),
    BPF_DW: ("dw", 8, "u64", None),
}

# Binary ALU operations: code -> (mnemonic, operator).
# instruction-set.rst "Arithmetic instructions"; operators as llvm-objdump.
_ALU_BINARY: dict[int, tuple[str, str]] = {
    BPF_ADD: ("add", "+="),
    BPF_SUB: ("sub", "-="),
    BPF_MUL: ("mul", "*="),
    BPF_DIV: ("div", "/="),
    BPF_OR: ("or", "|="),
    BPF_AND: ("and", "&="),
    BPF_LSH: ("lsh", "<<="),
    BPF_RSH: ("rsh", ">>="),
    BPF_MOD: ("mod", "%="),
    BPF_XOR: ("xor", "^="),
    BPF_ARSH: ("arsh", "s>>="),
}

# off=1 turns DIV/MOD signed (cpu v4). instruction-set.rst SDIV/SMOD rows.
_ALU_SIGNED: dict[int, tuple[str, str]] = {
    BPF_DIV: ("sdiv", "s/="),
    BPF_MOD: ("smod", "s%="),
}

# MOVSX source widths in bits, carried in off. The ISA and the verifier
# (check_alu_fields) allow 8/16 for ALU and 8/16/32 for ALU64.
_MOVSX_WIDTHS: dict[int, tuple[int, ...]] = {BPF_ALU: (8, 16), BPF_ALU64: (8, 16, 32)}

# BPF_END: (class | source bit) -> mnemonic prefix; imm is the width.
# instruction-set.rst "Byte swap instructions": ALU64 allows only TO_LE (= bswap).
_END_FORMS: dict[int, str] = {
    BPF_ALU | BPF_TO_LE: "le",
    BPF_ALU | BPF_TO_BE: "be",
    BPF_ALU64 | BPF_TO_LE: "bswap",
}
_END_WIDTHS = (16, 32, 64)

# Conditional jumps: code -> (mnemonic, operator). instruction-set.rst
# "Jump instructions"; both JMP and JMP32, K and X.
_JMP_COND: dict[int, tuple[str, str]] = {
    BPF_JEQ: ("jeq", "=="),
    BPF_JGT: ("jgt", ">"),
    BPF_JGE: ("jge", ">="),
    BPF_JSET: ("jset", "&"),
    BPF_JNE: ("jne", "!="),
    BPF_JSGT: ("jsgt", "s>"),
    BPF_JSGE: ("jsge", "s>="),
    BPF_JLT: ("jlt", "<"),
    BPF_JLE: ("jle", "<="),
    BPF_JSLT: ("jslt", "s<"),
    BPF_JSLE: ("jsle", "s<="),
}

# Read-modify-write atomics: imm -> (name, operator), each also with
# BPF_FETCH. instruction-set.rst "Atomic operations" (W and DW only).
_ATOMIC_RMW: dict[int, tuple[str, str]] = {
    BPF_ADD: ("add", "+="),
    BPF_OR: ("or", "|="),
    BPF_AND: ("and", "&="),
    BPF_XOR: ("xor", "^="),
}

# ld_imm64 src -> rendering. instruction-set.rst "64-bit immediate
# instructions"; MAP_FD and MAP_IDX need next_imm 0 (verifier.c,
# "unrecognized bpf_ld_imm64 insn").
_LD_IMM64_PSEUDO: dict[int, tuple[str, bool]] = {
    0: ("r{dst} = {imm64} ll", False),
    BPF_PSEUDO_MAP_FD: ("r{dst} = map_by_fd({imm}) ll", True),
    BPF_PSEUDO_MAP_VALUE: ("r{dst} = map_val(map_by_fd({imm})) + {next_imm} ll", False),
    BPF_PSEUDO_BTF_ID: ("r{dst} = var_addr({imm}) ll", False),
    BPF_PSEUDO_FUNC: ("r{dst} = code_addr(pc{rel}) ll", False),
    BPF_PSEUDO_MAP_IDX: ("r{dst} = map_by_idx({imm}) ll", True),
    BPF_PSEUDO_MAP_IDX_VALUE: ("r{dst} = map_val(map_by_idx({imm})) + {next_imm} ll", False),
}

# Why some notable opcodes are absent, for clearer ``reason`` text.
# kernel/bpf/core.c bpf_opcode_in_insntable() is the list of what exists.
_ABSENT: dict[int, str] = {
    BPF_JMP | BPF_JA | BPF_X: "gotox (indirect jump, newer than ISA v4) is not decoded",
    BPF_JMP | BPF_CALL | BPF_X: "callx (call through a register) is not in the ISA",
    BPF_JMP | BPF_EXIT | BPF_X: "exit has no register-source form",
    BPF_JMP32 | BPF_CALL | BPF_K: "call exists only in class JMP",
    BPF_JMP32 | BPF_CALL | BPF_X: "call exists only in class JMP",
    BPF_JMP32 | BPF_EXIT | BPF_K: "exit exists only in class JMP",
    BPF_JMP32 | BPF_EXIT | BPF_X: "exit exists only in class JMP",
    BPF_JMP32 | BPF_JA | BPF_X: "gotol has no register-source form",
    BPF_JMP32 | BPF_JCOND | BPF_K: "may_goto exists only in class JMP",
    BPF_ALU | BPF_NEG | BPF_X: "neg has no register-source form",
    BPF_ALU64 | BPF_NEG | BPF_X: "neg has no register-source form",
    BPF_ALU64 | BPF_END | BPF_TO_BE: "ALU64 byte swap (bswap) requires source bit 0",
    BPF_LDX | BPF_MEMSX | BPF_DW: "there is no sign-extending 8-byte load",
    BPF_LD | BPF_ABS | BPF_DW: "legacy packet loads have no 8-byte form",
    BPF_LD | BPF_IND | BPF_DW: "legacy packet loads have no 8-byte form",
    BPF_LD | BPF_IMM | BPF_W: "BPF_LD|BPF_IMM exists only as 16-byte ld_imm64 (0x18)",
    BPF_LD | BPF_IMM | BPF_H: "BPF_LD|BPF_IMM exists only as 16-byte ld_imm64 (0x18)",
    BPF_LD | BPF_IMM | BPF_B: "BPF_LD|BPF_IMM exists only as 16-byte ld_imm64 (0x18)",
}


def _alu_table() -> dict[int, _Entry]:
    table: dict[int, _Entry] = {}
    for cls, reg, sfx in ((BPF_ALU64, "r", ""), (BPF_ALU, "w", "32")):
        for code, (name, op) in _ALU_BINARY.items():
            k = _Spec(name + sfx, f"{reg}{{dst}} {op} {{imm}}", zero=("src", "off"))
            x = _Spec(name + sfx, f"{reg}{{dst}} {op} {reg}{{src}}", zero=("off", "imm"))
            if code in _ALU_SIGNED:
                sname, sop = _ALU_SIGNED[code]
                table[cls | code | BPF_K] = _Select(
                    "off",
                    "signedness offset",
                    {
                        0: _Spec(k.mnemonic, k.template, zero=("src",)),
                        1: _Spec(sname + sfx, f"{reg}{{dst}} {sop} {{imm}}", zero=("src",)),
                    },
                )
                table[cls | code | BPF_X] = _Select(
                    "off",
                    "signedness offset",
                    {
                        0: _Spec(x.mnemonic, x.template, zero=("imm",)),
                        1: _Spec(sname + sfx, f"{reg}{{dst}} {sop} {reg}{{src}}", zero=("imm",)),
                    },
                )
            else:
                table[cls | code | BPF_K] = k
                table[cls | code | BPF_X] = x
        table[cls | BPF_MOV | BPF_K] = _Spec(
            "mov" + sfx, f"{reg}{{dst}} = {{imm}}", zero=("src", "off")
        )
        movx: dict[int, _Spec] = {
            0: _Spec("mov" + sfx, f"{reg}{{dst}} = {reg}{{src}}", zero=("imm",))
        }
        for width in _MOVSX_WIDTHS[cls]:
            movx[width] = _Spec(
                "movs" + sfx, f"{reg}{{dst}} = (s{width}){reg}{{src}}", zero=("imm",)
            )
        if cls == BPF_ALU64:
            # verifier.c check_alu_fields: only address spaces 0 <-> 1.
            movx[BPF_ADDR_SPACE_CAST] = _Spec(
                "addr_space_cast",
                "r{dst} = addr_space_cast(r{src}, {as_hi}, {as_lo})",
                imm_in=frozenset({1, 1 << 16}),
            )
        table[cls | BPF_MOV | BPF_X] = _Select("off", "mov offset", movx)
        table[cls | BPF_NEG | BPF_K] = _Spec(
            "neg" + sfx, f"{reg}{{dst}} = -{reg}{{dst}}", zero=("src", "off", "imm")
        )
    for cls_src, prefix in _END_FORMS.items():
        table[cls_src | BPF_END] = _Select(
            "imm",
            "byte swap width",
            {
                w: _Spec(f"{prefix}{w}", f"r{{dst}} = {prefix}{w} r{{dst}}", zero=("src", "off"))
                for w in _END_WIDTHS
            },
        )
    return table


def _jmp_table() -> dict[int, _Entry]:
    table: dict[int, _Entry] = {}
    for cls, reg, sfx in ((BPF_JMP, "r", ""), (BPF_JMP32, "w", "32")):
        for code, (name, op) in _JMP_COND.items():
            table[cls | code | BPF_K] = _Spec(
                name + sfx, f"if {reg}{{dst}} {op} {{imm}} goto {{off}}", zero=("src",)
            )
            table[cls | code | BPF_X] = _Spec(
                name + sfx, f"if {reg}{{dst}} {op} {reg}{{src}} goto {{off}}", zero=("imm",)
            )
    # verifier.c check_jmp_fields: ja uses off, gotol (JMP32|JA) uses imm.
    table[BPF_JMP | BPF_JA] = _Spec("ja", "goto {off}", zero=("dst", "src", "imm"))
    table[BPF_JMP32 | BPF_JA] = _Spec("gotol", "gotol {rel}", zero=("dst", "src", "off"))
    # src selects helper / bpf-to-bpf / kfunc; a kfunc's off indexes fd_array
    # for module BTF, so only kfuncs may have off != 0.
    table[BPF_JMP | BPF_CALL] = _Select(
        "src",
        "call type",
        {
            BPF_HELPER_CALL: _Spec("call", "call {imm}", zero=("dst", "off")),
            BPF_PSEUDO_CALL: _Spec("call", "call pc{rel}", zero=("dst", "off")),
            BPF_PSEUDO_KFUNC_CALL: _Spec("call", "call kfunc#{imm}{kfunc_btf}", zero=("dst",)),
        },
    )
    # The kernel does not check off on exit (check_jmp_fields), so neither do we.
    table[BPF_JMP | BPF_EXIT] = _Spec("exit", "exit", zero=("dst", "src", "imm"))
    table[BPF_JMP | BPF_JCOND] = _Select(
        "src",
        "jcond type",
        {BPF_MAY_GOTO: _Spec("may_goto", "may_goto {off}", zero=("dst", "imm"))},
    )
    return table


def _memory_table() -> dict[int, _Entry]:
    table: dict[int, _Entry] = {}
    table[LD_IMM64] = _Select(
        "src",
        "ld_imm64 pseudo source",
        {
            src: _Spec("lddw", template, zero=("off",), next_imm_zero=next_zero)
            for src, (template, next_zero) in _LD_IMM64_PSEUDO.items()
        },
    )
    for size, (sz, _, ctype, sctype) in _SIZES.items():
        if size != BPF_DW:
            # Legacy packet access (cBPF carry-over): r0 = skb[...];
            # verifier.c check_insn_fields "BPF_LD_[ABS|IND] uses reserved fields".
            table[BPF_LD | BPF_ABS | size] = _Spec(
                f"ldabs{sz}", f"r0 = *({ctype} *)skb[{{imm}}]", zero=("dst", "src", "off")
            )
            table[BPF_LD | BPF_IND | size] = _Spec(
                f"ldind{sz}", f"r0 = *({ctype} *)skb[r{{src}}{{ind}}]", zero=("dst", "off")
            )
        table[BPF_LDX | BPF_MEM | size] = _Spec(
            f"ldx{sz}", f"r{{dst}} = *({ctype} *)(r{{src}} {{off}})", zero=("imm",)
        )
        if sctype is not None:
            table[BPF_LDX | BPF_MEMSX | size] = _Spec(
                f"ldxs{sz}", f"r{{dst}} = *({sctype} *)(r{{src}} {{off}})", zero=("imm",)
            )
        table[BPF_ST | BPF_MEM | size] = _Spec(
            f"st{sz}", f"*({ctype} *)(r{{dst}} {{off}}) = {{imm}}", zero=("src",)
        )
        table[BPF_STX | BPF_MEM | size] = _Spec(
            f"stx{sz}", f"*({ctype} *)(r{{dst}} {{off}}) = r{{src}}", zero=("imm",)
        )
        table[BPF_STX | BPF_ATOMIC | size] = _Select(
            "imm", "atomic operation", _atomic_choices(size)
        )
    return table


def _atomic_choices(size: int) -> dict[int, _Spec]:
    sz, _, ctype, _ = _SIZES[size]
    reg = "r" if size == BPF_DW else "w"
    mem = f"({ctype} *)(r{{dst}} {{off}})"
    choices: dict[int, _Spec] = {}
    if size in (BPF_W, BPF_DW):
        sfx = "" if size == BPF_DW else "32"
        bits = "_64" if size == BPF_DW else "32_32"  # llvm-objdump: xchg_64, xchg32_32
        for code, (name, op) in _ATOMIC_RMW.items():
            choices[code] = _Spec(f"a{name}{sfx}", f"lock *{mem} {op} {reg}{{src}}")
            choices[code | BPF_FETCH] = _Spec(
                f"af{name}{sfx}", f"{reg}{{src}} = atomic_fetch_{name}({mem}, {reg}{{src}})"
            )
        choices[BPF_XCHG] = _Spec(
            f"axchg{sfx}", f"{reg}{{src}} = xchg{bits}(r{{dst}} {{off}}, {reg}{{src}})"
        )
        choices[BPF_CMPXCHG] = _Spec(
            f"acmp{sfx}", f"{reg}0 = cmpxchg{bits}(r{{dst}} {{off}}, {reg}0, {reg}{{src}})"
        )
    # Load-acquire / store-release: all four sizes (kernel commit 880442305a39).
    choices[BPF_LOAD_ACQ] = _Spec(
        f"ldacq{sz}", f"{reg}{{dst}} = load_acquire(({ctype} *)(r{{src}} {{off}}))"
    )
    choices[BPF_STORE_REL] = _Spec(f"strel{sz}", f"store_release({mem}, {reg}{{src}})")
    return choices


def _build_table() -> dict[int, _Entry]:
    table: dict[int, _Entry] = {}
    for part in (_alu_table(), _jmp_table(), _memory_table()):
        overlap = table.keys() & part.keys()
        assert not overlap, f"opcode tables overlap: {sorted(overlap)}"
        table.update(part)
    return table


_TABLE: dict[int, _Entry] = _build_table()
"""opcode -> form(s): every opcode the decoder accepts."""


def _classify(
    opcode: int, dst: int, src: int, off: int, imm: int, imm64: int | None
) -> _Spec | str:
    """Return the form of an instruction, or the reason it is not valid."""
    if dst > MAX_REG or src > MAX_REG:
        bad = dst if dst > MAX_REG else src
        return f"register field value {bad} is not a register (r0-r{MAX_REG})"
    if opcode == LD_IMM64 and imm64 is None:
        return "ld_imm64 needs a second slot with opcode, registers and offset all 0"
    entry = _TABLE.get(opcode)
    if entry is None:
        detail = _ABSENT.get(opcode, "not defined by the eBPF ISA")
        return f"opcode {opcode:#04x} (class {_CLASS_NAMES[opcode & 7]}): {detail}"
    fields = {"dst": dst, "src": src, "off": off, "imm": imm}
    if isinstance(entry, _Select):
        value = fields[entry.by]
        spec = entry.choices.get(value)
        if spec is None:
            shown = f"{value:#x}" if entry.by == "imm" else str(value)
            return f"{entry.what} {entry.by}={shown} is not defined for opcode {opcode:#04x}"
    else:
        spec = entry
    for name in spec.zero:
        if fields[name] != 0:
            return f"{spec.mnemonic}: reserved field {name}={fields[name]} must be 0"
    if spec.imm_in is not None and imm not in spec.imm_in:
        return f"{spec.mnemonic}: imm={imm:#x} is not allowed"
    if spec.next_imm_zero and imm64 is not None and imm64 >> 32:
        return f"{spec.mnemonic}: second slot imm must be 0 for pseudo source {src}"
    return spec


def _s32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value & 0x8000_0000 else value


# --- The instruction value ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded eBPF instruction: the raw fields plus derived views.

    ``index`` is the slot number of the first slot; ``off`` and ``imm`` are
    signed. ``imm64`` is set only for a well-formed 16-byte ld_imm64 and holds
    the full constant as an unsigned 64-bit value (``imm`` is its low half).
    Predicates answer for known instructions only: an unknown one (``known``
    False) answers False or None everywhere and must be handled via ``known``.
    """

    index: int
    opcode: int
    dst: int
    src: int
    off: int
    imm: int
    imm64: int | None = None
    _form: _Spec | str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"index must be >= 0, got {self.index}")
        if not 0 <= self.opcode <= 0xFF:
            raise ValueError(f"opcode {self.opcode} does not fit 8 bits")
        if not (0 <= self.dst <= 15 and 0 <= self.src <= 15):
            raise ValueError(f"registers dst={self.dst} src={self.src} do not fit 4 bits")
        if not -0x8000 <= self.off <= 0x7FFF:
            raise ValueError(f"off {self.off} does not fit signed 16 bits")
        if not -0x8000_0000 <= self.imm <= 0x7FFF_FFFF:
            raise ValueError(f"imm {self.imm} does not fit signed 32 bits")
        if self.imm64 is not None:
            if self.opcode != LD_IMM64:
                raise ValueError("imm64 is only valid for ld_imm64 (opcode 0x18)")
            if not 0 <= self.imm64 < 1 << 64:
                raise ValueError(f"imm64 {self.imm64} does not fit unsigned 64 bits")
            if self.imm64 & _MASK32 != self.imm & _MASK32:
                raise ValueError("imm must be the low 32 bits of imm64")
        form = _classify(self.opcode, self.dst, self.src, self.off, self.imm, self.imm64)
        object.__setattr__(self, "_form", form)

    # -- identity --------------------------------------------------------------

    @property
    def known(self) -> bool:
        """True if the instruction is a valid eBPF instruction the kernel accepts."""
        return isinstance(self._form, _Spec)

    @property
    def reason(self) -> str:
        """Why the instruction is unknown; empty for a known instruction."""
        return self._form if isinstance(self._form, str) else ""

    @property
    def mnemonic(self) -> str:
        """The GNU-as style name (``add32``, ``ldxw``, ``afadd``); ``unknown`` if unknown."""
        return self._form.mnemonic if isinstance(self._form, _Spec) else "unknown"

    @property
    def size(self) -> int:
        """Number of 8-byte slots the instruction occupies (2 for ld_imm64)."""
        return 1 if self.imm64 is None else 2

    @property
    def insn_class(self) -> int:
        """The instruction class, the low 3 bits of the opcode (BPF_LD ... BPF_ALU64)."""
        return self.opcode & 0x07

    @property
    def access_size(self) -> int | None:
        """Bytes read or written by a memory instruction; None for anything else."""
        if not self.known or self.insn_class not in (BPF_LD, BPF_LDX, BPF_ST, BPF_STX):
            return None
        if self.opcode == LD_IMM64:
            return None
        return _SIZES[self.opcode & 0x18][1]

    # -- predicates --------------------------------------------------------------

    def _mode_is(self, cls: tuple[int, ...], mode: int) -> bool:
        return self.known and self.insn_class in cls and self.opcode & 0xE0 == mode

    def is_store(self) -> bool:
        """A plain memory store, ST (``*(size *)(dst + off) = imm``) or STX; not atomics."""
        return self._mode_is((BPF_ST, BPF_STX), BPF_MEM)

    def is_atomic(self) -> bool:
        """A BPF_STX|BPF_ATOMIC instruction, including load-acquire and store-release."""
        return self._mode_is((BPF_STX,), BPF_ATOMIC)

    def is_memory_write(self) -> bool:
        """Writes memory at ``dst + off``: a store or any atomic except load-acquire."""
        return self.is_store() or (self.is_atomic() and self.imm != BPF_LOAD_ACQ)

    def is_load(self) -> bool:
        """Loads ``dst = *(size *)(src + off)``: LDX (MEM, MEMSX) or load-acquire."""
        if self.is_atomic():
            return self.imm == BPF_LOAD_ACQ
        return self.known and self.insn_class == BPF_LDX

    def is_legacy_load(self) -> bool:
        """A cBPF-era packet load, LD_ABS or LD_IND, which writes r0 from the skb."""
        return self._mode_is((BPF_LD,), BPF_ABS) or self._mode_is((BPF_LD,), BPF_IND)

    def is_ld_imm64(self) -> bool:
        """The 16-byte ``lddw`` that loads a 64-bit constant or a pseudo address."""
        return self.known and self.opcode == LD_IMM64

    def is_call(self) -> bool:
        """Any call: helper, bpf-to-bpf (pseudo) or kfunc."""
        return self.known and self.opcode == BPF_JMP | BPF_CALL

    def is_helper_call(self) -> bool:
        """A call to the kernel helper numbered ``imm`` (src 0)."""
        return self.is_call() and self.src == BPF_HELPER_CALL

    def is_pseudo_call(self) -> bool:
        """A bpf-to-bpf call to the subprogram at ``jump_target()`` (src 1)."""
        return self.is_call() and self.src == BPF_PSEUDO_CALL

    def is_kfunc_call(self) -> bool:
        """A call to the kernel function with BTF id ``imm`` (src 2)."""
        return self.is_call() and self.src == BPF_PSEUDO_KFUNC_CALL

    def is_exit(self) -> bool:
        """Return from the current (sub)program."""
        return self.known and self.opcode == BPF_JMP | BPF_EXIT

    def is_jump(self) -> bool:
        """Any jump, conditional or not (ja, gotol, may_goto, jeq ...); not call/exit."""
        return (
            self.known
            and self.insn_class in (BPF_JMP, BPF_JMP32)
            and self.opcode & 0xF0 not in (BPF_CALL, BPF_EXIT)
        )

    def is_cond_jump(self) -> bool:
        """A jump with two successors: the comparisons and may_goto, not ja/gotol."""
        return self.is_jump() and self.opcode & 0xF0 != BPF_JA

    def jump_target(self) -> int | None:
        """Absolute slot index a jump or bpf-to-bpf call goes to; None otherwise."""
        if self.is_jump():
            delta = self.imm if self.opcode == BPF_JMP32 | BPF_JA else self.off
            return self.index + delta + 1
        if self.is_pseudo_call():
            return self.index + self.imm + 1
        return None

    def func_ref_target(self) -> int | None:
        """Slot index of the subprogram whose address an ld_imm64 (src 4) loads."""
        if self.is_ld_imm64() and self.src == BPF_PSEUDO_FUNC:
            return self.index + self.imm + 1
        return None

    # -- rendering and encoding ---------------------------------------------------

    def text(self) -> str:
        """llvm-objdump-like pseudo-C, e.g. ``r0 = *(u32 *)(r1 +76)``."""
        form = self._form
        if isinstance(form, str):
            return f"<unknown {self.opcode:#04x}: {form}>"
        imm64 = self.imm64 if self.imm64 is not None else self.imm & _MASK32
        return form.template.format(
            dst=self.dst,
            src=self.src,
            imm=self.imm,
            off=f"{self.off:+d}",
            rel=f"{self.imm:+d}",
            imm64=f"{imm64:#x}",
            next_imm=imm64 >> 32,
            ind=f" {self.imm:+d}" if self.imm else "",
            as_hi=(self.imm & _MASK32) >> 16,
            as_lo=self.imm & 0xFFFF,
            kfunc_btf=f" (module btf {self.off})" if self.off else "",
        )

    def __str__(self) -> str:
        return self.text()

    def to_bytes(self) -> bytes:
        """Encode back to the 8 or 16 little-endian bytes it was decoded from."""
        first = _SLOT.pack(self.opcode, self.src << 4 | self.dst, self.off, self.imm)
        if self.imm64 is None:
            return first
        return first + _SLOT.pack(0, 0, 0, _s32(self.imm64 >> 32))


# --- Decoding -------------------------------------------------------------------

_Bytes = bytes | bytearray | memoryview


def decode_one(data: _Bytes, index: int = 0) -> Insn:
    """Decode the instruction that starts at slot ``index`` of ``data``.

    Raises DecodeError when the slot (or an ld_imm64's second slot) lies
    beyond the end of ``data``. A second slot whose opcode, registers or
    offset are not 0 is not a continuation: the first slot then decodes as a
    one-slot unknown instruction.
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    start = index * SLOT_SIZE
    if len(data) < start + SLOT_SIZE:
        raise DecodeError(
            f"slot {index} is truncated: needs bytes {start}..{start + SLOT_SIZE}, have {len(data)}"
        )
    opcode, regs, off, imm = _SLOT.unpack_from(data, start)
    imm64: int | None = None
    if opcode == LD_IMM64:
        if len(data) < start + 2 * SLOT_SIZE:
            raise DecodeError(f"ld_imm64 at slot {index} is missing its second slot")
        opcode2, regs2, off2, imm2 = _SLOT.unpack_from(data, start + SLOT_SIZE)
        if opcode2 == 0 and regs2 == 0 and off2 == 0:
            imm64 = (imm2 & _MASK32) << 32 | imm & _MASK32
    return Insn(index, opcode, regs & 0x0F, regs >> 4, off, imm, imm64)


def decode(data: _Bytes) -> list[Insn]:
    """Decode a whole program; every slot belongs to exactly one instruction.

    Raises DecodeError if the length is not a multiple of 8 or the last
    instruction is an ld_imm64 without its second slot.
    """
    if len(data) % SLOT_SIZE:
        raise DecodeError(f"bytecode length {len(data)} is not a multiple of {SLOT_SIZE}")
    insns: list[Insn] = []
    index, count = 0, len(data) // SLOT_SIZE
    while index < count:
        insn = decode_one(data, index)
        insns.append(insn)
        index += insn.size
    return insns


def encode(insns: Iterable[Insn]) -> bytes:
    """Concatenate the encodings of ``insns``; ``encode(decode(b)) == b``."""
    return b"".join(insn.to_bytes() for insn in insns)


def capstone_text(data: _Bytes) -> list[str | None]:
    """Capstone's rendering of each slot, for display only; None where it fails.

    Slot boundaries come from ``decode()`` (so DecodeError propagates), and
    each instruction is handed to capstone alone, so one it cannot decode
    (JMP32, bswap, ldsx, may_goto, a write to r10 ...) does not hide the rest.
    The second slot of an ld_imm64 is always None. Capstone's text is not
    trusted: it shows movsx as mov, sdiv as div, every atomic as xadd and
    pseudo/kfunc calls as helper calls.
    """
    import capstone  # imported here: only display needs it

    raw = bytes(data)
    texts: list[str | None] = [None] * (len(raw) // SLOT_SIZE)
    engine = capstone.Cs(capstone.CS_ARCH_BPF, capstone.CS_MODE_BPF_EXTENDED)
    for insn in decode(raw):
        start = insn.index * SLOT_SIZE
        chunk = raw[start : start + insn.size * SLOT_SIZE]
        try:
            found = list(engine.disasm(chunk, start, 1))
        except capstone.CsError:
            continue
        if found and found[0].size == len(chunk):
            texts[insn.index] = f"{found[0].mnemonic} {found[0].op_str}".strip()
    return texts
