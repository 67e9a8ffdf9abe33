"""The prove-and-gate commands: check, lock, explain.

Each ``cmd_*`` returns plain data and each ``text_*`` renders it; the
declarations at the end are what the CLI is built from (extframe/command.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypedDict

from extframe import check as checks
from extframe import gate as gates
from extframe.command import PROVE_AND_GATE, Arg, Command, Example, status_of
from extframe.errors import ExtframeError
from extframe.inputs import expand_actions
from extframe.lockfile import LOCK_NAME, Lock, action_key, program_entry
from extframe.manifest import declaration_of
from extframe.sarif import sarif_log


class CheckResult(TypedDict):
    #: One object per program: its proven effects, declaration and findings.
    programs: list[dict[str, Any]]
    rejected: list[str]
    findings: list[gates.Finding]
    failed: int
    json: list[dict[str, Any]]
    sarif: dict[str, Any]


class LockResult(TypedDict):
    lock: str
    written: bool
    actions: list[str]
    added: list[str]
    changed: list[str]
    removed: list[str]


class ExplainResult(TypedDict):
    effects: dict[str, Any]
    listing: list[dict[str, Any]]
    rejected: list[str]


def cmd_check(args: argparse.Namespace) -> CheckResult:
    if args.json and args.sarif:
        raise ExtframeError("--json and --sarif both print to stdout: choose one")
    lock_path = Path(args.lock or LOCK_NAME)
    lock = Lock.read(lock_path) if args.locked or args.lock is not None else None
    programs: list[dict[str, Any]] = []
    rejected: list[str] = []
    findings: list[gates.Finding] = []
    for path in expand_actions(args.paths):
        checked = checks.check_file(
            path, prog_type=args.type, kernel=not args.no_kernel, raw=args.raw
        )
        declaration = declaration_of(path, checked.declared_text)
        locked = lock.actions.get(action_key(path, lock_path), {}) if lock is not None else None
        found = gates.findings_of(checked, declaration, locked, lock_path.name)
        findings += found
        for a in checked.analyses:
            programs.append(
                a.effects.model_dump(mode="json")
                | {
                    "object": str(path),
                    "declared": declaration.effects.text if declaration.effects else None,
                    "findings": [f.as_dict() for f in found if f.program == a.program.name],
                }
            )
        if checked.rejected is not None:
            rejected.append(checked.rejected_text)
    failed = sum(f.level == "error" and f.rule != "verifier-rejected" for f in findings)
    status = status_of({"rejected": rejected, "failed": failed})
    return {
        "programs": programs,
        "rejected": rejected,
        "findings": findings,
        "failed": failed,
        "json": programs,
        "sarif": sarif_log(findings, exit_code=status),
    }


def text_check(r: CheckResult) -> str:
    text = "\n\n".join(checks.text_effects(e) for e in r["programs"])
    shown = gates.text_findings(r["findings"])
    return f"{text}\n\n{shown}" if shown else text


def cmd_lock(args: argparse.Namespace) -> LockResult:
    lock_path = Path(args.lock or LOCK_NAME)
    lock = Lock.read(lock_path) if lock_path.exists() else Lock(lock_path)
    before = dict(lock.actions)
    entries: dict[str, dict[str, Any]] = {}
    for path in expand_actions(args.paths):
        checked = checks.check_file(path, prog_type=args.type)
        if checked.rejected is not None:
            raise checked.rejected  # nothing is proven: the lock stays as it was
        declared = declaration_of(path, checked.declared_text).effects
        entries[action_key(path, lock_path)] = {
            a.program.name: program_entry(a.effects, declared) for a in checked.analyses
        }
    lock.actions.update(entries)
    pruned = lock.prune()
    written = lock.write()
    return {
        "lock": str(lock_path),
        "written": written,
        "actions": sorted(entries),
        "added": sorted(k for k in entries if k not in before),
        "changed": sorted(k for k, v in entries.items() if k in before and before[k] != v),
        "removed": pruned,
    }


def text_lock(r: LockResult) -> str:
    head = f"{r['lock']}: {len(r['actions'])} action(s) locked, " + (
        f"{len(r['added'])} added, {len(r['changed'])} changed, {len(r['removed'])} removed"
        if r["written"]
        else "already up to date"
    )
    lines = [head]
    lines += [f"  added    {k}" for k in r["added"]]
    lines += [f"  changed  {k}" for k in r["changed"]]
    lines += [f"  removed  {k} (the file is gone)" for k in r["removed"]]
    if r["written"]:
        lines.append("review the diff of the lock file and commit it with the change")
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> ExplainResult:
    path = Path(args.action)
    checked = checks.check_file(path, prog_type=args.type, kernel=not args.no_kernel, raw=args.raw)
    names = [a.program.name for a in checked.analyses]
    chosen = args.program or names[0]
    if chosen not in names:
        raise ExtframeError(f"{path}: no program {chosen!r} (programs: {', '.join(names)})")
    a = next(a for a in checked.analyses if a.program.name == chosen)
    effects = a.effects.model_dump(mode="json") | {"object": str(path)}
    rows = checks.listing(a)
    rejected = [checked.rejected_text] if checked.rejected is not None else []
    return {"effects": effects, "listing": rows, "rejected": rejected}


def text_explain(r: ExplainResult) -> str:
    head = checks.text_effects(r["effects"])
    return checks.text_listing(r["effects"]["program"], r["listing"], head + "\n")


# ---------------------------------------------------------------- declarations

ACTIONS = "ACTION.c|ACTION.o|DIR"

CHECK_EXIT_CODES = """\
exit status (the same with --json and --sarif):
  0  every action matches: its proven effects are within its declaration and,
     with --locked, equal to the lock file (warnings and notes do not fail)
  1  a mismatch: an action may change something it does not declare, its
     effects cannot be proven, or it differs from the lock file
  2  usage, input, build or environment error (also a missing or malformed lock
     file or effects manifest)
  3  the kernel verifier rejected a program (its verdict is unknown)
"""

EXPLAIN_EXIT_CODES = """\
exit status:
  0  the program was analysed (whatever its verdict)
  2  usage, input, build or environment error
  3  the kernel verifier rejected the program (its verdict is unknown)
"""

LOCK_EXIT_CODES = """\
exit status:
  0  the lock file is written (or was already up to date)
  2  usage, input, build or environment error; the lock file is left as it was
  3  the kernel verifier rejected a program; the lock file is left as it was
"""

CHECK = Command(
    name="check",
    group=PROVE_AND_GATE,
    help="prove what actions may change, and fail when it exceeds the declaration or lock",
    description="Analyse every program of each action: load it with the kernel verifier "
    "(level-2 log), follow every path statically, and combine both into a verdict:\n"
    "  read_only  proven to change no packet byte, length or metadata\n"
    "  writes     the write set: packet byte spans (offsets from the Ethernet header)\n"
    "             with the header fields they hit, metadata, length changes\n"
    "  unknown    the proof could not be completed; the reasons say why\n"
    "Each effect names its instruction and C line. flow_key_affected says whether OVS\n"
    "must re-classify the packet after the action. Nothing stays loaded. A folder\n"
    "stands for every action in it (each .c, and each .o without a .c of its name).\n\n"
    "Then the gate: the proven effects are compared with what the action declares\n"
    "(EXTFRAME_EFFECTS in its source, or NAME.effects.toml beside it) and, with\n"
    "--locked, with the lock file that `extframe lock` wrote. Each finding names\n"
    "the effect and the C line, with a caret under the column:\n"
    "  error    exceeds-declaration, unproven, verifier-rejected, differs-from-lock,\n"
    "           not-locked, stale-allowance: the check fails\n"
    "  warning  accepted-analyzer-limit (a reviewed wider_than_declared in the\n"
    "           manifest), declared-not-proven (the declaration claims more)\n"
    "  note     undeclared",
    examples=(
        Example("check actions/*.c"),
        Example("check actions/", "the same: every action in the folder"),
        Example("lock actions/*.c", "record what they do, then git add extframe.lock"),
        Example("check --locked actions/*.c", "the CI gate"),
        Example("extframe check --locked --sarif actions/*.c > extframe.sarif", shell=True),
        Example("check build/filter.o --type tc --json"),
        Example("check actions/dec_ttl.c --no-kernel", "static analysis only"),
        Example("check prog.bin --raw --type xdp", "bare bytecode, less evidence"),
    ),
    notes="--json prints an array, one object per program, with the keys object, program,\n"
    "section, type, verdict, flow_key_affected, reasons, packet_writes (insn,\n"
    "offset_min, offset_max, size, fields, flow_key, source, via, evidence, note),\n"
    "metadata_writes, length_changes, helpers, maps, disagreements, static_verdict,\n"
    "kernel, declared, findings (rule, level, action, program, message, effect, file,\n"
    "line, column, source_text).\n"
    "--sarif prints a SARIF 2.1.0 log of the findings (one rule per kind) for code\n"
    "scanning: docs/ci/ has a GitHub Actions workflow and a pre-commit hook.",
    args=(
        Arg("paths", nargs="+", metavar=ACTIONS),
        Arg(
            "--locked",
            action="store_true",
            help=f"also compare every action with the lock file (default ./{LOCK_NAME})",
        ),
        Arg(
            "--lock",
            metavar="FILE",
            help=f"the lock file (default ./{LOCK_NAME}); implies --locked",
        ),
        Arg("--sarif", action="store_true", help="print the findings as a SARIF 2.1.0 log"),
    ),
    common="analysis",
    exit_codes=CHECK_EXIT_CODES,
    run=cmd_check,
    render=text_check,
)

LOCK = Command(
    name="lock",
    group=PROVE_AND_GATE,
    help="record what actions were proven to do in the lock file, for review",
    description="Check each action with the kernel (as `extframe check` does) and write\n"
    f"its proven effects into the lock file (default ./{LOCK_NAME}), which\n"
    "`extframe check --locked` compares with. Per program: the declaration, verdict,\n"
    "reclassify decision, header fields written, metadata written, length changes,\n"
    "helpers and maps. The file is JSON with sorted keys and no lines, instruction\n"
    "numbers, times or absolute paths, so moving code without changing what it does\n"
    "leaves it byte-identical. Entries of other actions are kept; entries whose file\n"
    "is gone are dropped. It is written only when its content changes. A folder\n"
    "stands for every action in it.",
    examples=(
        Example("lock actions/*.c"),
        Example("lock actions/dec_ttl.c", "update one entry"),
        Example("lock --lock ci/actions.lock actions/*.c"),
    ),
    args=(
        Arg("paths", nargs="+", metavar=ACTIONS),
        Arg("--lock", metavar="FILE", help=f"the lock file (default ./{LOCK_NAME})"),
    ),
    common="typed",
    exit_codes=LOCK_EXIT_CODES,
    run=cmd_lock,
    render=text_lock,
)

EXPLAIN = Command(
    name="explain",
    group=PROVE_AND_GATE,
    help="annotated listing: source, instructions, verifier types, effects",
    description="Print the program instruction by instruction: the C source line, the "
    "instruction, the register types the verifier saw for its operands after it ran "
    "(on every explored path), and the effect the analyzer attributes to it.",
    examples=(
        Example("explain actions/dec_ttl.c"),
        Example("explain tests/kernel/progs/two_progs.c --program mark_second"),
    ),
    args=(
        Arg("action", metavar="ACTION.c|ACTION.o"),
        Arg("--program", help="which program of the object (default: the first)"),
    ),
    common="analysis",
    exit_codes=EXPLAIN_EXIT_CODES,
    run=cmd_explain,
    render=text_explain,
)

COMMANDS = (CHECK, LOCK, EXPLAIN)
