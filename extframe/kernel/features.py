"""Which helpers and kfuncs this kernel offers to tc and XDP programs, asked of its verifier.

bpftool's ``feature probe`` answers this for helpers, but Debian 12's (v7.1,
libbpf 1.1) lists all 206 helpers it knows as available to every program
type on Linux 6.18, ``bpf_skb_store_bytes`` to kprobes included: it takes any
refusal other than the one it expects for a yes. So the verifier is asked
here, one load per helper or kfunc and program type, and only its own
refusal counts as a no:

- a helper: ``program of this type cannot use helper NAME#N``
  (``check_helper_call()`` in kernel/bpf/verifier.c: the program type's
  ``get_func_proto`` has none), ``invalid func`` for a number past the
  kernel's last, ``helper call might sleep in a non-sleepable prog`` (tc
  and XDP programs never sleep);
- a kfunc: ``calling kernel function NAME is not allowed``
  (``fetch_kfunc_meta()``: no kfunc set of the program type holds it),
  ``program must be sleepable to call sleepable kfunc``, ``cannot find
  address for kernel function``.

Any other refusal (arguments of the wrong type: each probe passes the
context and zeros) means the call itself is allowed. The names come from the
kernel's BTF (/sys/kernel/btf/vmlinux): ``enum bpf_func_id`` for helpers,
every function it tags ``bpf_kfunc`` for kfuncs. Kfuncs of modules (their
BTF beside vmlinux in /sys/kernel/btf/, called with a BTF fd) are not asked
about.

The verifier offers many helpers only to a loader with CAP_BPF and
CAP_PERFMON (``bpf_base_func_proto()``), and refuses the others with the same
"cannot use helper" line: ask as root, or the answer is too short.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from analyzer.btf import Btf, BtfKind
from analyzer.insn import BPF_PSEUDO_KFUNC_CALL, Insn, encode
from extframe.kernel.bpf_syscall import RawLoadOptions, prog_load
from extframe.kernel.loader import PROG_TYPES

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

_HELPER_REFUSED = (
    "program of this type cannot use helper",
    "invalid func ",
    "helper call might sleep in a non-sleepable prog",
)
_KFUNC_REFUSED = (
    "program must be sleepable to call sleepable kfunc",
    "cannot find address for kernel function",
)


class FeatureError(RuntimeError):
    """The kernel cannot be asked (no BTF, or a load failed in a way that answers nothing)."""


def _calling(imm: int, src: int = 0) -> bytes:
    """r2..r5 = 0 (r1 is the context); call ``imm``; r0 = 0; exit."""
    zero = [Insn(r - 2, 0xB7, r, 0, 0, 0) for r in (2, 3, 4, 5)]  # mov rN, 0
    call = Insn(4, 0x85, 0, src, 0, imm)
    return encode([*zero, call, Insn(5, 0xB7, 0, 0, 0, 0), Insn(6, 0x95, 0, 0, 0, 0)])


@dataclass(frozen=True)
class Offered:
    """What the kernel lets one program type call."""

    helpers: dict[int, str]  # number -> uapi name (no ``bpf_`` prefix)
    kfuncs: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def vmlinux_btf() -> Btf:
    try:
        return Btf.parse(VMLINUX_BTF.read_bytes())
    except OSError as e:
        raise FeatureError(
            f"cannot read the kernel's BTF at {VMLINUX_BTF}: {e.strerror}; "
            "a kernel built with CONFIG_DEBUG_INFO_BTF=y has it"
        ) from e


def kernel_helper_names() -> dict[int, str]:
    """``enum bpf_func_id`` of the running kernel: number -> uapi name."""
    enum = vmlinux_btf().find(BtfKind.ENUM, "bpf_func_id")
    if enum is None:
        raise FeatureError("the kernel's BTF has no enum bpf_func_id")
    return {
        e.value: e.name.removeprefix("BPF_FUNC_")
        for e in enum.enumerators
        if e.name.startswith("BPF_FUNC_") and e.value > 0
    }


def kernel_kfuncs() -> dict[str, int]:
    """Every function the kernel's BTF tags ``bpf_kfunc``: name -> BTF id."""
    btf = vmlinux_btf()
    out: dict[str, int] = {}
    for t in btf.types:
        if (
            t.kind == BtfKind.DECL_TAG
            and t.name == "bpf_kfunc"
            and t.component_idx == -1
            and t.ref_type_id is not None
        ):
            func = btf.type_by_id(t.ref_type_id)
            if func.kind == BtfKind.FUNC:
                out[func.name] = func.type_id
    return out


def _allowed(insns: bytes, prog_type: int, refusals: tuple[str, ...]) -> bool:
    load = prog_load(insns, RawLoadOptions(prog_type=prog_type, log_level=1, log_size=1 << 16))
    load.close()
    if load.fd is not None:
        return True
    if not load.log:
        raise FeatureError(f"a probe load failed with errno {load.errno} and no log")
    return not any(r in load.log for r in refusals)


@functools.cache
def offered(kind: str) -> Offered:
    """What the kernel lets a ``kind`` ("tc" or "xdp") program call, asked of its verifier."""
    prog_type = PROG_TYPES[kind]
    helpers = {
        n: name
        for n, name in sorted(kernel_helper_names().items())
        if _allowed(_calling(n), prog_type, _HELPER_REFUSED)
    }
    kfuncs = tuple(
        name
        for name, btf_id in sorted(kernel_kfuncs().items())
        if _allowed(
            _calling(btf_id, src=BPF_PSEUDO_KFUNC_CALL),
            prog_type,
            (f"calling kernel function {name} is not allowed", *_KFUNC_REFUSED),
        )
    )
    return Offered(helpers, kfuncs)
