"""The control-flow graph of a linked program and its subprograms.

Nodes are instructions (slot indices of their first slot); ``successors()``
gives the intra-procedural edges, ``callee()`` the bpf-to-bpf call edges.
Basic blocks are derived for display and counting. Building the graph checks
what the verifier's ``check_subprogs()`` and ``check_cfg()``
(kernel/bpf/verifier.c) check of the shape of the code: every jump lands on
the first slot of an instruction of its own function, no function falls off
its end, and every call target starts a function. A program that fails these
checks raises ``CfgError``: the kernel would refuse it, and no verdict may
rest on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from analyzer.errors import CfgError
from analyzer.insn import Insn

__all__ = ["BasicBlock", "Cfg", "build_cfg"]


@dataclass(frozen=True, slots=True)
class BasicBlock:
    """Instructions ``insns`` (slot indices) run one after the other; ``succs`` are block starts."""

    start: int
    insns: tuple[int, ...]
    succs: tuple[int, ...]
    function: int  # start slot of the function holding it


@dataclass(frozen=True, slots=True)
class Cfg:
    """Instruction-level control flow of one linked program.

    ``functions``: start slot → end slot (exclusive) of every function.
    ``entries``: function starts reached other than by a call: the program's
    entry (0) and callbacks whose address the program takes (``ld_imm64``
    with ``BPF_PSEUDO_FUNC``). ``reachable``: instructions reachable from the
    entries through jumps and calls.
    """

    insns: Mapping[int, Insn]
    functions: Mapping[int, int]
    entries: tuple[int, ...]
    reachable: frozenset[int]
    _succs: Mapping[int, tuple[int, ...]]

    def successors(self, index: int) -> tuple[int, ...]:
        """Where control goes after instruction ``index`` in the same function.

        A call's successor is the next instruction (the callee returns
        there); an exit has none; a conditional jump has the fall-through
        first, then the target.
        """
        return self._succs[index]

    def callee(self, index: int) -> int | None:
        """The function a bpf-to-bpf call at ``index`` enters, else None."""
        insn = self.insns[index]
        return insn.jump_target() if insn.is_pseudo_call() else None

    def function_of(self, index: int) -> int:
        """The start slot of the function holding ``index``."""
        for start, end in self.functions.items():
            if start <= index < end:
                return start
        raise KeyError(index)

    def blocks(self) -> list[BasicBlock]:
        """The basic blocks of the reachable code, in slot order."""
        leaders = set(self.entries) | set(self.functions)
        for index in self.reachable:
            succs = self._succs[index]
            insn = self.insns[index]
            if insn.is_jump() or insn.is_exit():
                leaders.update(succs)
                nxt = index + insn.size
                if nxt in self.insns:
                    leaders.add(nxt)
        blocks: list[BasicBlock] = []
        for start in sorted(leaders & self.reachable):
            run = [start]
            index = start
            while True:
                succs = self._succs[index]
                if len(succs) != 1 or succs[0] in leaders or self.insns[index].is_exit():
                    break
                index = succs[0]
                run.append(index)
            blocks.append(
                BasicBlock(
                    start=start,
                    insns=tuple(run),
                    succs=self._succs[run[-1]],
                    function=self.function_of(start),
                )
            )
        return blocks


def build_cfg(insns: Sequence[Insn], function_starts: Iterable[int]) -> Cfg:
    """The graph of ``insns`` (a decoded linked program) split at ``function_starts``.

    Raises ``CfgError`` for code the verifier would refuse: a jump or call
    outside its function or into the second slot of an ``ld_imm64``, the
    last instruction of a function that falls through, a call target that
    is not a function start. Unknown instructions are nodes with a
    fall-through edge; the verdict layer answers ``unknown`` for them.
    """
    by_index = {insn.index: insn for insn in insns}
    if not by_index:
        raise CfgError("the program has no instructions")
    count = max(by_index) + by_index[max(by_index)].size
    starts = sorted({0, *function_starts})
    for start in starts:
        if start not in by_index:
            raise CfgError(f"function start {start} is not the first slot of an instruction")
    bounds = [*starts, count]
    functions = {bounds[i]: bounds[i + 1] for i in range(len(starts))}

    entries = [0]
    succs: dict[int, tuple[int, ...]] = {}
    for start, end in functions.items():
        for index in (i for i in range(start, end) if i in by_index):
            insn = by_index[index]
            succs[index] = _successors(insn, start, end, by_index)
            target = insn.jump_target() if insn.is_pseudo_call() else insn.func_ref_target()
            if target is not None and target not in functions:
                what = "call" if insn.is_pseudo_call() else "function address"
                raise CfgError(f"insn {index}: {what} target {target} does not start a function")
            if insn.func_ref_target() is not None and target not in entries:
                entries.append(target)  # type: ignore[arg-type]

    reachable: set[int] = set()
    todo = list(entries)
    while todo:
        index = todo.pop()
        if index in reachable:
            continue
        reachable.add(index)
        todo.extend(succs[index])
        callee = by_index[index].jump_target() if by_index[index].is_pseudo_call() else None
        if callee is not None:
            todo.append(callee)
        ref = by_index[index].func_ref_target()
        if ref is not None:
            todo.append(ref)
    return Cfg(
        insns=by_index,
        functions=functions,
        entries=tuple(entries),
        reachable=frozenset(reachable),
        _succs=succs,
    )


def _successors(insn: Insn, start: int, end: int, by_index: Mapping[int, Insn]) -> tuple[int, ...]:
    index = insn.index
    if insn.is_exit():
        return ()
    nxt = index + insn.size
    if insn.is_jump():
        target = insn.jump_target()
        assert target is not None
        if not start <= target < end or target not in by_index:
            raise CfgError(f"insn {index}: jump to {target} leaves its function [{start}, {end})")
        if not insn.is_cond_jump():
            return (target,)
        if nxt >= end:
            raise CfgError(f"insn {index}: falls off the end of its function")
        return (nxt,) if target == nxt else (nxt, target)
    if nxt >= end:
        raise CfgError(f"insn {index}: the last instruction of a function must exit or jump")
    return (nxt,)
