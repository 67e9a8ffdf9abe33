"""The extframe command line: build, load, run and unload actions on the real kernel.

Every command builds its result once as plain data, then prints it as text
or, with ``--json``, as JSON (bpftool's conventions: snake_case keys with
units in their names, errors as ``{"error": "..."}``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from extframe import __version__, bpffs, mapview
from extframe import check as checks
from extframe import gate as gates
from extframe import packet as packets
from extframe.build import BuildOptions, build, object_for
from extframe.errors import BuildError, ExtframeError, VerifierError
from extframe.loader import PROG_TYPES, LoadedObject, LoadOptions, load_object
from extframe.lockfile import LOCK_NAME, Lock, action_key, program_entry
from extframe.manifest import declaration_of, read_declared
from extframe.mirror import commands as mirror_commands
from extframe.ovs import commands as ovs_commands
from extframe.ovs import demo
from extframe.sarif import sarif_log
from extframe.testrun import RunInput, run
from extframe.vectors import VectorFile, run_vectors, vectors_path

ACTIONS_DIR = Path(__file__).resolve().parent.parent / "actions"

Result = dict[str, Any]

EXIT_CODES = """\
exit status:
  0  success
  1  an action did not do what its vectors say (vectors, library), or a demo
     check failed
  2  usage, input, build or environment error
  3  the kernel verifier rejected a program
"""

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


# ---------------------------------------------------------------- helpers


def load(path: Path, args: argparse.Namespace) -> LoadedObject:
    """Build (if C) and load; the object file is not needed once loaded."""
    with object_for(path) as obj_path:
        return load_object(obj_path, LoadOptions(prog_type=args.type), shown_as=path)


def program_summary(obj: LoadedObject) -> list[Result]:
    return [
        {
            "name": p.name,
            "section": p.section,
            "type": p.type_name,
            "insns": p.insn_count,
            "verifier_processed_insns": p.processed_insns,
            "verifier_log_bytes": len(p.log),
            "verifier_log_complete": p.log_complete,
        }
        for p in obj.programs
    ]


def packet_inputs(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    if args.packet is not None:
        return [(args.packet, packets.from_expression(args.packet))]
    if args.hex is not None:
        return [("hex", packets.from_hex(args.hex))]
    pkts = packets.from_pcap(Path(args.pcap))
    if not pkts:
        raise ExtframeError(f"{args.pcap}: the capture holds no packets")
    return [(f"{args.pcap}#{i + 1}", p) for i, p in enumerate(pkts)]


# ---------------------------------------------------------------- commands


def cmd_build(args: argparse.Namespace) -> Result:
    sources = [Path(s) for s in args.sources]
    if args.output and len(sources) > 1:
        raise ExtframeError("-o takes one source; without -o each object goes beside its source")
    built = []
    for src in sources:
        out = build(
            src, Path(args.output) if args.output else None, BuildOptions(werror=args.werror)
        )
        built.append({"source": str(src), "object": str(out)})
    return {"built": built}


def text_build(r: Result) -> str:
    return "\n".join(f"built {b['object']}" for b in r["built"])


def cmd_load(args: argparse.Namespace) -> Result:
    path = Path(args.action)
    name = args.name or path.stem
    bpffs.check_name(name)
    bpffs.require_bpffs(bpffs.default_root())
    obj = load(path, args)
    with obj:
        pinned = bpffs.pin(obj, name)
        return {
            "name": name,
            "folder": str(pinned.folder),
            "programs": program_summary(obj),
            "pinned_programs": {k: str(v) for k, v in pinned.programs.items()},
            "pinned_maps": {k: str(v) for k, v in pinned.maps.items()},
        }


def text_load(r: Result) -> str:
    lines = [f"loaded {r['name']} at {r['folder']}"]
    for p in r["programs"]:
        lines.append(
            f"  program {p['name']} ({p['type']}, {p['insns']} insns): verifier processed "
            f"{p['verifier_processed_insns']} insns"
        )
    lines += [f"  pinned {path}" for path in r["pinned_programs"].values()]
    lines += [f"  pinned {path}" for path in r["pinned_maps"].values()]
    return "\n".join(lines)


def cmd_unload(args: argparse.Namespace) -> Result:
    if args.all and args.names:
        raise ExtframeError("give names or --all, not both")
    names = bpffs.pinned_names() if args.all else args.names
    if not names and not args.all:
        raise ExtframeError("name what to unload, or pass --all")
    loaded = set(bpffs.pinned_names())
    missing = [n for n in names if n not in loaded]
    if missing:  # refuse before removing anything
        raise ExtframeError(
            f"not loaded: {', '.join(missing)} (loaded: {', '.join(sorted(loaded)) or 'nothing'})"
        )
    removed = {n: [str(p) for p in bpffs.unpin(n)] for n in names}
    return {"unloaded": removed}


def text_unload(r: Result) -> str:
    if not r["unloaded"]:
        return "nothing was loaded"
    return "\n".join(f"unloaded {n} ({len(p)} pins)" for n, p in r["unloaded"].items())


def cmd_run(args: argparse.Namespace) -> Result:
    inputs = packet_inputs(args)
    obj = load(Path(args.action), args)
    with obj:
        prog = obj.program(args.program)
        runs = []
        for label, data in inputs:
            res = run(
                prog,
                RunInput(
                    packet=data,
                    in_port=args.in_port,
                    arg=args.arg,
                    mark=args.mark,
                    priority=args.priority,
                    repeat=args.repeat,
                ),
            )
            d = packets.diff(data, res.packet)
            runs.append(
                {
                    "input": label,
                    "verdict": res.verdict,
                    "retval": res.retval,
                    "run_time_ns": res.duration_ns,
                    "mark_in": args.mark,
                    "mark_out": res.mark,
                    "priority_in": args.priority,
                    "priority_out": res.priority,
                    "size_in": d.length_before,
                    "size_out": d.length_after,
                    "changed_bytes": [list(r) for r in d.changed_bytes],
                    "fields": [
                        {"field": c.field, "before": c.before, "after": c.after} for c in d.fields
                    ],
                    "layers_in": d.layers_before,
                    "layers_out": d.layers_after,
                    "packet_out_hex": res.packet.hex(),
                }
            )
        maps = (
            [mapview.dump(m.fd, m.name) for m in obj.maps if not m.internal or args.all_maps]
            if args.maps or args.all_maps
            else None
        )
        return {
            "action": args.action,
            "program": prog.name,
            "type": prog.type_name,
            "verifier_processed_insns": prog.processed_insns,
            "runs": runs,
            "maps": maps,
        }


def _ranges(rs: list[list[int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in rs)


def text_run(r: Result) -> str:
    lines = [
        f"{r['action']}: program {r['program']} ({r['type']}), "
        f"verifier processed {r['verifier_processed_insns']} insns"
    ]
    for x in r["runs"]:
        lines.append(f"{x['input']}")
        lines.append(
            f"  verdict   {x['verdict']} (return code {x['retval']}, {x['run_time_ns']} ns)"
        )
        if r["type"] == "tc":  # XDP has no mark or priority
            meta = []
            for k in ("mark", "priority"):
                a, b = x[f"{k}_in"], x[f"{k}_out"]
                meta.append(f"{k} {a}" + (f" → {b}" if a != b else ""))
            lines.append("  metadata  " + ", ".join(meta))
        if x["size_in"] != x["size_out"]:
            lines.append(
                f"  length    {x['size_in']} → {x['size_out']} bytes "
                f"({'/'.join(x['layers_in'])} → {'/'.join(x['layers_out'])})"
            )
        elif not x["changed_bytes"]:
            lines.append("  packet    unchanged")
        else:
            width = max(len(f["field"]) for f in x["fields"]) if x["fields"] else 0
            for f in x["fields"]:
                lines.append(f"  {f['field']:<{width}}  {f['before']} → {f['after']}")
            lines.append(f"  bytes changed at offsets {_ranges(x['changed_bytes'])}")
    if r.get("maps") is not None:
        lines.append("maps after the run" + ("" if r["maps"] else ": none"))
        for d in r["maps"]:
            lines += mapview.text_dump(d, "  ")
    return "\n".join(lines)


def cmd_maps(args: argparse.Namespace) -> Result:
    root = Path(args.root) if args.root else bpffs.default_root()
    bpffs.check_name(args.name)
    folder = root / args.name / "map"
    if not folder.is_dir():
        known = ", ".join(bpffs.pinned_names(root)) or "nothing is loaded"
        raise ExtframeError(
            f"{args.name!r} is not loaded under {root} ({known}); "
            f"`extframe load ACTION --name {args.name}` pins it"
        )
    dumps = []
    for pin in sorted(folder.iterdir()):
        if args.map and pin.name != bpffs.pin_name(args.map):
            continue
        fd = bpffs.open_pinned(pin)
        try:
            d = mapview.dump(fd)
        finally:
            os.close(fd)
        if not args.all and "." in d["name"]:  # .bss, .data, .rodata: globals
            continue
        dumps.append(d | {"name": pin.name, "pinned_at": str(pin)})
    if args.map and not dumps:
        known = ", ".join(p.name for p in sorted(folder.iterdir())) or "none"
        raise ExtframeError(f"{args.name} has no map {args.map!r} (maps: {known})")
    return {"action": args.name, "maps": dumps, "json": dumps}


def text_maps(r: Result) -> str:
    lines = [f"{r['action']}:" + ("" if r["maps"] else " no maps")]
    for d in r["maps"]:
        lines += mapview.text_dump(d, "  ")
    return "\n".join(lines)


def _vectors_for(path: Path, args: argparse.Namespace) -> Result:
    """Build, load, pin, run the vectors, unpin: the whole pipeline for one action."""
    vpath = vectors_path(path)
    vectors = VectorFile.load(vpath)
    with object_for(path) as obj_path:
        declared = read_declared(obj_path)
        obj = load_object(obj_path, LoadOptions(prog_type=args.type), shown_as=path)
    with obj:
        name = path.stem
        pin_root: Path | None = getattr(args, "pin_root", None)
        pinned = bpffs.pin(obj, name, pin_root) if pin_root is not None else None
        try:
            outcomes = run_vectors(obj, vectors)
        finally:
            if pinned is not None:
                bpffs.unpin(name, pin_root)
        analyses = checks.check_file(path, prog_type=args.type).analyses if args.analyse else []
        return {
            "action": str(path),
            "verdict": analyses[0].effects.verdict if analyses else None,
            "flow_key_affected": analyses[0].effects.flow_key_affected if analyses else None,
            "declared": declared.text if declared else None,
            "programs": program_summary(obj),
            "maps": [m.name for m in obj.maps if not m.internal],
            "pinned_at": str(pinned.folder) if pinned else None,
            "vectors": [
                {"name": o.name, "verdict": o.verdict, "passed": o.passed, "problems": o.problems}
                for o in outcomes
            ],
        }


def cmd_vectors(args: argparse.Namespace) -> Result:
    args.analyse = False
    results = [_vectors_for(Path(a), args) for a in args.actions]
    failed = sum(not v["passed"] for r in results for v in r["vectors"])
    return {"actions": results, "failed": failed}


def text_vectors(r: Result) -> str:
    lines = []
    for a in r["actions"]:
        ok = sum(v["passed"] for v in a["vectors"])
        lines.append(f"{a['action']}: {ok}/{len(a['vectors'])} vectors pass")
        for v in a["vectors"]:
            mark = "ok  " if v["passed"] else "FAIL"
            lines.append(f"  {mark} {v['name']} ({v['verdict']})")
            lines += [f"       {p}" for p in v["problems"]]
    return "\n".join(lines)


def status_of(r: Result) -> int:
    """The exit status a command's result calls for (see the exit codes in --help)."""
    if r.get("rejected"):
        return VerifierError.exit_code
    return 1 if r.get("failed") else 0


def cmd_check(args: argparse.Namespace) -> Result:
    if args.json and args.sarif:
        raise ExtframeError("--json and --sarif both print to stdout: choose one")
    lock_path = Path(args.lock or LOCK_NAME)
    lock = Lock.read(lock_path) if args.locked or args.lock is not None else None
    programs: list[Result] = []
    rejected: list[str] = []
    findings: list[gates.Finding] = []
    for path in (Path(p) for p in args.paths):
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
    result: Result = {
        "programs": programs,
        "rejected": rejected,
        "findings": findings,
        "failed": sum(f.level == "error" and f.rule != "verifier-rejected" for f in findings),
        "json": programs,
    }
    result["sarif"] = sarif_log(findings, exit_code=status_of(result))
    return result


def text_check(r: Result) -> str:
    text = "\n\n".join(checks.text_effects(e) for e in r["programs"])
    shown = gates.text_findings(r["findings"])
    return f"{text}\n\n{shown}" if shown else text


def cmd_lock(args: argparse.Namespace) -> Result:
    lock_path = Path(args.lock or LOCK_NAME)
    lock = Lock.read(lock_path) if lock_path.exists() else Lock(lock_path)
    before = dict(lock.actions)
    entries: dict[str, dict[str, Any]] = {}
    for path in (Path(p) for p in args.paths):
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


def text_lock(r: Result) -> str:
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


def cmd_explain(args: argparse.Namespace) -> Result:
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


def text_explain(r: Result) -> str:
    head = checks.text_effects(r["effects"])
    return checks.text_listing(r["effects"]["program"], r["listing"], head + "\n")


def _relative(path: Path) -> Path:
    """``path`` relative to the working folder when it lies below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def cmd_library(args: argparse.Namespace) -> Result:
    sources = [_relative(p) for p in sorted(ACTIONS_DIR.glob("*.c"))]
    if not sources:
        raise ExtframeError(f"no actions in {ACTIONS_DIR}")
    # A private folder, so the demo never meets the user's own pins.
    args.pin_root = bpffs.bpffs_mount() / f"extframe_demo_{os.getpid()}"
    args.analyse = True
    bpffs.require_bpffs(args.pin_root)
    try:
        results = [_vectors_for(s, args) for s in sources]
    finally:
        shutil.rmtree(args.pin_root, ignore_errors=True)
    # One worked example: the first vector of a writing action, diffed by field.
    example = None
    ttl = _relative(ACTIONS_DIR / "dec_ttl.c")
    if ttl.exists():
        v = VectorFile.load(vectors_path(ttl)).vector
        first = next((x for x in v if x.output is not None and x.packet is not None), None)
        if first is not None and first.packet is not None:
            ns = argparse.Namespace(
                action=str(ttl),
                packet=first.packet,
                hex=None,
                pcap=None,
                in_port=first.in_port,
                arg=first.arg,
                mark=first.mark,
                priority=first.priority,
                repeat=1,
                program=None,
                type=args.type,
                maps=False,
                all_maps=False,
            )
            example = cmd_run(ns)
    failed = sum(not v["passed"] for r in results for v in r["vectors"])
    return {"actions": results, "example": example, "failed": failed}


def text_library(r: Result) -> str:
    rows = [("action", "proven", "declared effects", "verifier", "maps", "vectors")]
    for a in r["actions"]:
        p = a["programs"][0]
        ok = sum(v["passed"] for v in a["vectors"])
        proven = a["verdict"] + (" (re-classify)" if a["flow_key_affected"] else "")
        rows.append(
            (
                Path(a["action"]).stem,
                proven,
                a["declared"] or "(none)",
                f"accepted, {p['verifier_processed_insns']} insns",
                ", ".join(a["maps"]) or "-",
                f"{ok}/{len(a['vectors'])} pass",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "extframe library: each bundled action is built with clang, loaded through the",
        "kernel verifier, analysed (`extframe check`: what it is proven to change, and",
        "whether OVS must re-classify after it), pinned in a private folder of bpffs,",
        "run on its packet vectors with BPF_PROG_TEST_RUN, and unloaded.",
        "",
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    for a in r["actions"]:
        for v in a["vectors"]:
            if not v["passed"]:
                lines.append(
                    f"  FAIL {Path(a['action']).stem}: {v['name']}: {'; '.join(v['problems'])}"
                )
    if r["example"]:
        lines += ["", "example: " + text_run(r["example"])]
    lines += [
        "",
        "all vectors pass; nothing is left pinned"
        if not r["failed"]
        else f"{r['failed']} vectors FAILED",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- parser

Command = tuple[Callable[[argparse.Namespace], Result], Callable[[Result], str]]
COMMANDS: dict[str, Command] = {
    "build": (cmd_build, text_build),
    "load": (cmd_load, text_load),
    "unload": (cmd_unload, text_unload),
    "run": (cmd_run, text_run),
    "maps": (cmd_maps, text_maps),
    "vectors": (cmd_vectors, text_vectors),
    "library": (cmd_library, text_library),
    "check": (cmd_check, text_check),
    "lock": (cmd_lock, text_lock),
    "explain": (cmd_explain, text_explain),
    **ovs_commands.COMMANDS,
    **mirror_commands.COMMANDS,
    "demo": (demo.cmd_demo, demo.text_demo),
}


def _common(p: argparse.ArgumentParser, *, type_opt: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on a verifier rejection, print the whole verifier log",
    )
    if type_opt:
        p.add_argument(
            "--type",
            choices=sorted(PROG_TYPES),
            help="program type for every program, overriding the ELF section names",
        )


def _analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-kernel",
        action="store_true",
        help="static analysis only: no load, so never read_only",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="bare bytecode (8-byte instructions, no ELF): fewer names, no lines; needs --type",
    )
    _common(p)


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(
        prog="extframe",
        formatter_class=fmt,
        description="Custom Open vSwitch actions in C, compiled to eBPF and checked by the "
        "kernel verifier.",
        epilog="examples:\n"
        "  extframe build actions/dec_ttl.c\n"
        '  extframe run actions/dec_ttl.c --packet "Ether()/IP(ttl=5)/UDP()"\n'
        "  extframe load actions/port_counter.c && extframe unload port_counter\n"
        "  extframe vectors actions/*.c\n"
        "  extframe demo                                 # the whole loop on a sandbox OVS\n"
        "  extframe sandbox start --hosts 2 && extframe register ttl actions/dec_ttl.c\n\n"
        + EXIT_CODES,
    )
    top.add_argument("--version", action="version", version=f"extframe {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "build",
        formatter_class=fmt,
        help="compile actions to BPF objects with clang",
        description="Compile C actions with clang -O2 -g -target bpf (BTF and line info "
        "included) against the action ABI header actions/include/extframe.h.",
        epilog="examples:\n  extframe build actions/dec_ttl.c -o /tmp/dec_ttl.o\n"
        "  extframe build actions/*.c     # each object beside its source\n\n" + EXIT_CODES,
    )
    p.add_argument("sources", nargs="+", metavar="ACTION.c")
    p.add_argument("-o", "--output", metavar="OUT.o", help="object path (one source only)")
    p.add_argument("--werror", action="store_true", help="treat compiler warnings as errors")
    _common(p, type_opt=False)

    p = sub.add_parser(
        "load",
        formatter_class=fmt,
        help="load an action and pin it in bpffs",
        description="Build (for .c), load through the kernel verifier and pin every program "
        "and map under /sys/fs/bpf/extframe/NAME/{prog,map}/. Nothing is pinned if any step "
        "fails.",
        epilog="example:\n  extframe load actions/port_counter.c --name counter\n\n" + EXIT_CODES,
    )
    p.add_argument("action", metavar="ACTION.c|ACTION.o")
    p.add_argument("--name", help="name in bpffs (default: the file's stem)")
    _common(p)

    p = sub.add_parser(
        "unload",
        formatter_class=fmt,
        help="remove pinned actions from bpffs",
        description="Remove the pins of loaded actions; the kernel frees a program once no "
        "pin or file descriptor holds it.",
        epilog="examples:\n  extframe unload counter\n  extframe unload --all\n\n" + EXIT_CODES,
    )
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every action under /sys/fs/bpf/extframe")
    _common(p, type_opt=False)

    p = sub.add_parser(
        "run",
        formatter_class=fmt,
        help="run an action on a packet (BPF_PROG_TEST_RUN)",
        description="Load the action, run it once per packet in the kernel with "
        "BPF_PROG_TEST_RUN, and show the verdict, the metadata and what changed in the "
        "packet, field by field. Nothing stays loaded.",
        epilog="examples:\n"
        '  extframe run actions/dec_ttl.c --packet "Ether()/IP(ttl=5)/UDP()"\n'
        "  extframe run actions/port_filter.c --hex 0200000000020200000000010800... \n"
        "  extframe run prog.o --type tc --pcap capture.pcap --in-port 2 --json\n\n"
        "The packet expression is scapy syntax: layers, constants, '/' and bytes; it is\n"
        "interpreted, never evaluated as Python.\n\n" + EXIT_CODES,
    )
    p.add_argument("action", metavar="ACTION.c|ACTION.o")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--packet", metavar="EXPR", help='a scapy expression, e.g. "Ether()/IP()"')
    src.add_argument("--hex", metavar="HEX", help="packet bytes in hex, from the Ethernet header")
    src.add_argument("--pcap", metavar="FILE", help="run on every packet of a pcap file")
    p.add_argument("--in-port", type=int, default=0, help="OVS input port (cb[0]); default 0")
    p.add_argument("--arg", type=int, default=0, help="the flow's argument (cb[1]); default 0")
    p.add_argument("--mark", type=int, default=0, help="skb mark (OVS pkt_mark) going in")
    p.add_argument("--priority", type=int, default=0, help="skb priority going in")
    p.add_argument("--program", help="which program of the object (default: the first)")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per packet, 1 to 1000000; the time shown is the average",
    )
    p.add_argument(
        "--maps",
        action="store_true",
        help="show the action's maps after the runs, decoded with their BTF types",
    )
    p.add_argument(
        "--all-maps",
        action="store_true",
        help="like --maps, with the global-variable maps (.bss, .data, .rodata) too",
    )
    _common(p)

    p = sub.add_parser(
        "maps",
        formatter_class=fmt,
        help="show the maps of a loaded action, decoded with their BTF types",
        description="Read the maps an action pinned with `extframe load` (under "
        "/sys/fs/bpf/extframe/NAME/map/) and print every entry, decoded with the BTF types "
        "the kernel keeps for each map. Integers are in host order; __be16/__be32 fields "
        "are converted from network order, a __be32 is shown as an IPv4 address, __u8[6] "
        "as a MAC and __u8[16] as an IPv6 address; structs are {member = value}. The same "
        "notation is what vectors files accept. All-zero array entries are not shown.",
        epilog="examples:\n"
        "  extframe load actions/port_counter.c && extframe maps port_counter\n"
        "  extframe maps policer --map policer_config --json\n"
        '  extframe run actions/flow_counter.c --packet "Ether()/IP()/UDP()" --maps\n\n'
        + EXIT_CODES,
    )
    p.add_argument("name", metavar="NAME", help="the name the action was loaded under")
    p.add_argument("--map", help="only this map")
    p.add_argument("--all", action="store_true", help="include .bss/.data/.rodata maps")
    p.add_argument("--root", help="bpffs folder of loaded actions (default /sys/fs/bpf/extframe)")
    _common(p, type_opt=False)

    p = sub.add_parser(
        "vectors",
        formatter_class=fmt,
        help="check actions against their packet test vectors",
        description="For each action, load it and run the vectors in ACTION.vectors.toml "
        "beside it; exit 1 if any vector fails.",
        epilog="example:\n  extframe vectors actions/*.c\n\n" + EXIT_CODES,
    )
    p.add_argument("actions", nargs="+", metavar="ACTION.c|ACTION.o")
    _common(p)

    p = sub.add_parser(
        "check",
        formatter_class=fmt,
        help="prove what actions may change, and fail when it exceeds the declaration or lock",
        description="Analyse every program of each action: load it with the kernel verifier "
        "(level-2 log), follow every path statically, and combine both into a verdict:\n"
        "  read_only  proven to change no packet byte, length or metadata\n"
        "  writes     the write set: packet byte spans (offsets from the Ethernet header)\n"
        "             with the header fields they hit, metadata, length changes\n"
        "  unknown    the proof could not be completed; the reasons say why\n"
        "Each effect names its instruction and C line. flow_key_affected says whether OVS\n"
        "must re-classify the packet after the action. Nothing stays loaded.\n\n"
        "Then the gate: the proven effects are compared with what the action declares\n"
        "(EXTFRAME_EFFECTS in its source, or NAME.effects.toml beside it) and, with\n"
        "--locked, with the lock file that `extframe lock` wrote. Each finding names\n"
        "the effect and the C line, with a caret under the column:\n"
        "  error    exceeds-declaration, unproven, verifier-rejected, differs-from-lock,\n"
        "           not-locked, stale-allowance: the check fails\n"
        "  warning  accepted-analyzer-limit (a reviewed wider_than_declared in the\n"
        "           manifest), declared-not-proven (the declaration claims more)\n"
        "  note     undeclared",
        epilog="examples:\n"
        "  extframe check actions/*.c\n"
        "  extframe lock actions/*.c && git add extframe.lock   # record what they do\n"
        "  extframe check --locked actions/*.c                  # the CI gate\n"
        "  extframe check --locked --sarif actions/*.c > extframe.sarif\n"
        "  extframe check build/filter.o --type tc --json\n"
        "  extframe check actions/dec_ttl.c --no-kernel   # static analysis only\n"
        "  extframe check prog.bin --raw --type xdp       # bare bytecode, less evidence\n\n"
        "--json prints an array, one object per program, with the keys object, program,\n"
        "section, type, verdict, flow_key_affected, reasons, packet_writes (insn,\n"
        "offset_min, offset_max, size, fields, flow_key, source, via, evidence, note),\n"
        "metadata_writes, length_changes, helpers, maps, disagreements, static_verdict,\n"
        "kernel, declared, findings (rule, level, action, program, message, effect, file,\n"
        "line, column, source_text).\n"
        "--sarif prints a SARIF 2.1.0 log of the findings (one rule per kind) for code\n"
        "scanning: docs/ci/ has a GitHub Actions workflow and a pre-commit hook.\n\n"
        + CHECK_EXIT_CODES,
    )
    p.add_argument("paths", nargs="+", metavar="ACTION.c|ACTION.o")
    p.add_argument(
        "--locked",
        action="store_true",
        help=f"also compare every action with the lock file (default ./{LOCK_NAME})",
    )
    p.add_argument(
        "--lock", metavar="FILE", help=f"the lock file (default ./{LOCK_NAME}); implies --locked"
    )
    p.add_argument("--sarif", action="store_true", help="print the findings as a SARIF 2.1.0 log")
    _analysis_options(p)

    p = sub.add_parser(
        "lock",
        formatter_class=fmt,
        help="record what actions were proven to do in the lock file, for review",
        description="Check each action with the kernel (as `extframe check` does) and write\n"
        f"its proven effects into the lock file (default ./{LOCK_NAME}), which\n"
        "`extframe check --locked` compares with. Per program: the declaration, verdict,\n"
        "reclassify decision, header fields written, metadata written, length changes,\n"
        "helpers and maps. The file is JSON with sorted keys and no lines, instruction\n"
        "numbers, times or absolute paths, so moving code without changing what it does\n"
        "leaves it byte-identical. Entries of other actions are kept; entries whose file\n"
        "is gone are dropped. It is written only when its content changes.",
        epilog="examples:\n"
        "  extframe lock actions/*.c\n"
        "  extframe lock actions/dec_ttl.c                    # update one entry\n"
        "  extframe lock --lock ci/actions.lock actions/*.c\n\n" + LOCK_EXIT_CODES,
    )
    p.add_argument("paths", nargs="+", metavar="ACTION.c|ACTION.o")
    p.add_argument("--lock", metavar="FILE", help=f"the lock file (default ./{LOCK_NAME})")
    _common(p)

    p = sub.add_parser(
        "explain",
        formatter_class=fmt,
        help="annotated listing: source, instructions, verifier types, effects",
        description="Print the program instruction by instruction: the C source line, the "
        "instruction, the register types the verifier saw for its operands after it ran "
        "(on every explored path), and the effect the analyzer attributes to it.",
        epilog="examples:\n"
        "  extframe explain actions/dec_ttl.c\n"
        "  extframe explain tests/kernel/progs/two_progs.c --program mark_second\n\n"
        + EXPLAIN_EXIT_CODES,
    )
    p.add_argument("action", metavar="ACTION.c|ACTION.o")
    p.add_argument("--program", help="which program of the object (default: the first)")
    _analysis_options(p)

    p = sub.add_parser(
        "library",
        formatter_class=fmt,
        help="the bundled actions: proven effects, verifier, vectors",
        description="Build, load, analyse, pin, run the vectors of and unload every action in "
        "actions/, then show one run field by field. Pins go to a private folder of bpffs "
        "that is removed at the end.",
        epilog="example:\n  make demo     # runs this, then `extframe demo`\n\n" + EXIT_CODES,
    )
    _common(p)

    ovs_commands.add_parsers(sub, fmt, _common)
    mirror_commands.add_parsers(sub, fmt, _common)
    p = sub.add_parser(
        "demo",
        formatter_class=fmt,
        help="the whole loop on the sandbox switch, with real packets",
        description=demo.__doc__,
        epilog="example:\n  make demo     # installs what is missing, then runs this\n\n"
        + EXIT_CODES,
    )
    p.add_argument(
        "--run-dir", help="the sandbox's run directory (default: a private temporary one)"
    )
    p.add_argument("--keep", action="store_true", help="leave the sandbox running at the end")
    _common(p, type_opt=False)
    return top


def main(argv: list[str] | None = None) -> int:
    # A file name is bytes to Linux: one that is not UTF-8 is printed as the
    # bytes it is, whatever the locale, never a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    args = parser().parse_args(argv)
    action, render = COMMANDS[args.command]
    try:
        result = action(args)
    except ExtframeError as e:
        return _fail(e, args)
    except (OSError, UnicodeDecodeError) as e:
        # Files that vanish, folders where files were expected, permissions:
        # the environment's fault, told in one line like every other error.
        where = f"{e.filename}: " if isinstance(e, OSError) and e.filename else ""
        what = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return _fail(ExtframeError(f"{where}{what}"), args)
    except MemoryError:
        return _fail(ExtframeError("out of memory: is a packet or file far too large?"), args)
    except KeyboardInterrupt:
        sys.stderr.write("extframe: interrupted (what it had started is cleaned up)\n")
        return 130
    try:
        if getattr(args, "sarif", False):
            json.dump(result["sarif"], sys.stdout, indent=2)
            sys.stdout.write("\n")
            # stdout goes to a file for code scanning; people read the findings here.
            shown = gates.text_findings(result["findings"])
            if shown:
                sys.stderr.write(shown + "\n")
        elif args.json:
            json.dump(result.get("json", result), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            text = render(result)
            if text:
                print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    for line in result.get("rejected", ()):
        sys.stderr.write(f"extframe: verifier rejected {line}\n")
    return status_of(result)


def _fail(e: ExtframeError, args: argparse.Namespace) -> int:
    if getattr(args, "sarif", False):
        # Code scanning still gets a valid log: no results, the run marked failed.
        log = sarif_log([], exit_code=e.exit_code, error=e.message)
        json.dump(log, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(f"extframe: error: {e.message}\n")
    elif args.json:
        out: Result = {"error": e.message}
        if isinstance(e, VerifierError):
            s = e.summary
            out["verifier"] = {
                "program": e.program,
                "reason": s.reason,
                "insn": s.insn,
                "source_file": s.source_file,
                "source_line": s.source_line,
                "source_text": s.source_text,
                "hint": s.hint,
                "log": e.log,
            }
        if isinstance(e, BuildError) and e.output:
            out["compiler_output"] = e.output
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if isinstance(e, VerifierError):
            if args.verbose:
                sys.stderr.write(e.log.rstrip() + "\n")
            elif e.summary.source_text:
                sys.stderr.write(f"  {e.summary.source_line} | {e.summary.source_text}\n")
        if isinstance(e, BuildError) and e.output:
            sys.stderr.write(e.output.rstrip() + "\n")
        suffix = (
            " (whole log: --verbose)" if isinstance(e, VerifierError) and not args.verbose else ""
        )
        sys.stderr.write(f"extframe: error: {e.message}{suffix}\n")
    return e.exit_code
