"""The build-and-run commands: build, load, unload, run, maps, vectors, library.

Each ``cmd_*`` returns plain data and each ``text_*`` renders it; the
declarations at the end are what the CLI is built from (extframe/command.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any, TypedDict

from extframe import check as checks
from extframe import packet as packets
from extframe.build import BuildOptions, build, object_for
from extframe.command import BUILD_AND_RUN, Arg, Command, Example
from extframe.errors import ExtframeError
from extframe.inputs import expand_actions
from extframe.kernel import (
    LoadedObject,
    LoadOptions,
    RunInput,
    bpffs,
    load_object,
    mapview,
    run,
)
from extframe.manifest import read_declared
from extframe.vectors import VectorFile, run_vectors, vectors_path

ACTIONS_DIR = Path(__file__).resolve().parent.parent / "actions"


# ---------------------------------------------------------------- results


class ProgramSummary(TypedDict):
    name: str
    section: str
    type: str
    insns: int
    verifier_processed_insns: int | None
    verifier_log_bytes: int
    verifier_log_complete: bool


class Built(TypedDict):
    source: str
    object: str


class BuildResult(TypedDict):
    built: list[Built]


class LoadResult(TypedDict):
    name: str
    folder: str
    programs: list[ProgramSummary]
    pinned_programs: dict[str, str]
    pinned_maps: dict[str, str]


class UnloadResult(TypedDict):
    unloaded: dict[str, list[str]]


class FieldChange(TypedDict):
    field: str
    before: str
    after: str


class OneRun(TypedDict):
    input: str
    verdict: str
    retval: int
    run_time_ns: int
    mark_in: int
    mark_out: int
    priority_in: int
    priority_out: int
    size_in: int
    size_out: int
    changed_bytes: list[list[int]]
    fields: list[FieldChange]
    layers_in: list[str]
    layers_out: list[str]
    packet_out_hex: str


class RunResult(TypedDict):
    action: str
    program: str
    type: str
    verifier_processed_insns: int | None
    runs: list[OneRun]
    maps: list[dict[str, Any]] | None


class MapsResult(TypedDict):
    action: str
    maps: list[dict[str, Any]]
    json: list[dict[str, Any]]


class VectorOutcome(TypedDict):
    name: str
    verdict: str
    passed: bool
    problems: list[str]


class ActionVectors(TypedDict):
    action: str
    verdict: str | None
    flow_key_affected: bool | None
    declared: str | None
    programs: list[ProgramSummary]
    maps: list[str]
    pinned_at: str | None
    vectors: list[VectorOutcome]


class VectorsResult(TypedDict):
    actions: list[ActionVectors]
    failed: int


class LibraryResult(TypedDict):
    actions: list[ActionVectors]
    example: RunResult | None
    failed: int


# ---------------------------------------------------------------- helpers


def load(path: Path, args: argparse.Namespace) -> LoadedObject:
    """Build (if C) and load; the object file is not needed once loaded."""
    with object_for(path) as obj_path:
        return load_object(obj_path, LoadOptions(prog_type=args.type), shown_as=path)


def program_summary(obj: LoadedObject) -> list[ProgramSummary]:
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


def cmd_build(args: argparse.Namespace) -> BuildResult:
    sources = [Path(s) for s in args.sources]
    if args.output and len(sources) > 1:
        raise ExtframeError("-o takes one source; without -o each object goes beside its source")
    built: list[Built] = []
    for src in sources:
        out = build(
            src, Path(args.output) if args.output else None, BuildOptions(werror=args.werror)
        )
        built.append({"source": str(src), "object": str(out)})
    return {"built": built}


def text_build(r: BuildResult) -> str:
    return "\n".join(f"built {b['object']}" for b in r["built"])


def cmd_load(args: argparse.Namespace) -> LoadResult:
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


def text_load(r: LoadResult) -> str:
    lines = [f"loaded {r['name']} at {r['folder']}"]
    for p in r["programs"]:
        lines.append(
            f"  program {p['name']} ({p['type']}, {p['insns']} insns): verifier processed "
            f"{p['verifier_processed_insns']} insns"
        )
    lines += [f"  pinned {path}" for path in r["pinned_programs"].values()]
    lines += [f"  pinned {path}" for path in r["pinned_maps"].values()]
    return "\n".join(lines)


def cmd_unload(args: argparse.Namespace) -> UnloadResult:
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


def text_unload(r: UnloadResult) -> str:
    if not r["unloaded"]:
        return "nothing was loaded"
    return "\n".join(f"unloaded {n} ({len(p)} pins)" for n, p in r["unloaded"].items())


def cmd_run(args: argparse.Namespace) -> RunResult:
    inputs = packet_inputs(args)
    obj = load(Path(args.action), args)
    with obj:
        prog = obj.program(args.program)
        runs: list[OneRun] = []
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


def text_run(r: RunResult) -> str:
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
            for k, a, b in (
                ("mark", x["mark_in"], x["mark_out"]),
                ("priority", x["priority_in"], x["priority_out"]),
            ):
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
    maps = r["maps"]
    if maps is not None:
        lines.append("maps after the run" + ("" if maps else ": none"))
        for d in maps:
            lines += mapview.text_dump(d, "  ")
    return "\n".join(lines)


def _change_map(m: Any, types: mapview.MapTypes, sets: list[str], deletes: list[str]) -> None:
    """``--set KEY=VALUE`` and ``--delete KEY`` on ``m`` (anything with update and delete)."""
    for text in sets:
        key_text, value_text = mapview.split_entry(text)
        key = types.key.encode(mapview.parse_value(key_text, "key"), f"map {m.name} key")
        value = types.value.encode(mapview.parse_value(value_text, "value"), f"map {m.name} value")
        m.update(key, value)
    for text in deletes:
        m.delete(types.key.encode(mapview.parse_value(text, "key"), f"map {m.name} key"))


def cmd_maps(args: argparse.Namespace) -> MapsResult:
    if (args.set or args.delete) and not args.map:
        raise ExtframeError("--set and --delete change one map: name it with --map")
    if args.switch is not None:
        # Imported here: the OVS layer is not needed for loaded actions.
        from extframe.ovs.maps import dump_action_maps
        from extframe.ovs.switch import Switch, check_action_name

        check_action_name(args.name)
        switch = Switch.named(args.switch)
        switch.require_running()
        if args.set or args.delete:
            from extframe.ovs.maps import open_action_map

            pin = switch.pin_root / args.name / "map" / bpffs.pin_name(args.map)
            fd = bpffs.open_pinned(pin)  # the kernel's map: its BTF types
            try:
                types = mapview.map_types(fd)
            finally:
                os.close(fd)
            with open_action_map(switch, args.name, args.map) as m:
                _change_map(m, types, args.set, args.delete)
        dumps = dump_action_maps(switch, args.name, args.map, internal=args.all)
        if args.map and not dumps:
            raise ExtframeError(f"{args.name} has no map {args.map!r} on {switch.run_dir}")
        return {"action": args.name, "maps": dumps, "json": dumps}
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
        if args.set or args.delete:
            pinned = bpffs.open_pinned_map(pin)
            try:
                _change_map(pinned, mapview.map_types(pinned.fd), args.set, args.delete)
            finally:
                os.close(pinned.fd)
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


def text_maps(r: MapsResult) -> str:
    lines = [f"{r['action']}:" + ("" if r["maps"] else " no maps")]
    for d in r["maps"]:
        lines += mapview.text_dump(d, "  ")
    return "\n".join(lines)


def _vectors_for(path: Path, args: argparse.Namespace) -> ActionVectors:
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


def cmd_vectors(args: argparse.Namespace) -> VectorsResult:
    args.analyse = False
    results = [_vectors_for(a, args) for a in expand_actions(args.actions)]
    failed = sum(not v["passed"] for r in results for v in r["vectors"])
    return {"actions": results, "failed": failed}


def text_vectors(r: VectorsResult) -> str:
    lines = []
    for a in r["actions"]:
        ok = sum(v["passed"] for v in a["vectors"])
        lines.append(f"{a['action']}: {ok}/{len(a['vectors'])} vectors pass")
        for v in a["vectors"]:
            mark = "ok  " if v["passed"] else "FAIL"
            lines.append(f"  {mark} {v['name']} ({v['verdict']})")
            lines += [f"       {p}" for p in v["problems"]]
    return "\n".join(lines)


def _relative(path: Path) -> Path:
    """``path`` relative to the working folder when it lies below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def cmd_library(args: argparse.Namespace) -> LibraryResult:
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


def text_library(r: LibraryResult) -> str:
    rows = [("action", "proven", "declared effects", "verifier", "maps", "vectors")]
    for a in r["actions"]:
        p = a["programs"][0]
        ok = sum(v["passed"] for v in a["vectors"])
        proven = (a["verdict"] or "unknown") + (" (re-classify)" if a["flow_key_affected"] else "")
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


# ---------------------------------------------------------------- declarations

ACTION = "ACTION.c|ACTION.o"

BUILD = Command(
    name="build",
    group=BUILD_AND_RUN,
    help="compile actions to BPF objects with clang",
    description="Compile C actions with clang -O2 -g -target bpf (BTF and line info "
    "included) against the action ABI header actions/include/extframe.h.",
    examples=(
        Example("build actions/dec_ttl.c -o /tmp/dec_ttl.o"),
        Example("build actions/*.c", "each object beside its source"),
    ),
    args=(
        Arg("sources", nargs="+", metavar="ACTION.c"),
        Arg("-o", "--output", metavar="OUT.o", help="object path (one source only)"),
        Arg("--werror", action="store_true", help="treat compiler warnings as errors"),
    ),
    run=cmd_build,
    render=text_build,
)

LOAD = Command(
    name="load",
    group=BUILD_AND_RUN,
    help="load an action and pin it in bpffs",
    description="Build (for .c), load through the kernel verifier and pin every program "
    "and map under /sys/fs/bpf/extframe/NAME/{prog,map}/. Nothing is pinned if any step "
    "fails.",
    examples=(Example("load actions/port_counter.c --name counter"),),
    args=(
        Arg("action", metavar=ACTION),
        Arg("--name", help="name in bpffs (default: the file's stem)"),
    ),
    common="typed",
    run=cmd_load,
    render=text_load,
)

UNLOAD = Command(
    name="unload",
    group=BUILD_AND_RUN,
    help="remove pinned actions from bpffs",
    description="Remove the pins of loaded actions; the kernel frees a program once no "
    "pin or file descriptor holds it.",
    examples=(Example("unload counter"), Example("unload --all")),
    args=(
        Arg("names", nargs="*", metavar="NAME"),
        Arg("--all", action="store_true", help="every action under /sys/fs/bpf/extframe"),
    ),
    run=cmd_unload,
    render=text_unload,
)

RUN = Command(
    name="run",
    group=BUILD_AND_RUN,
    help="run an action on a packet (BPF_PROG_TEST_RUN)",
    description="Load the action, run it once per packet in the kernel with "
    "BPF_PROG_TEST_RUN, and show the verdict, the metadata and what changed in the "
    "packet, field by field. Nothing stays loaded.",
    examples=(
        Example('run actions/dec_ttl.c --packet "Ether()/IP(ttl=5)/UDP()"'),
        Example("run actions/port_filter.c --hex 0200000000020200000000010800"),
        Example("run prog.o --type tc --pcap capture.pcap --in-port 2 --json"),
    ),
    notes="The packet expression is scapy syntax: layers, constants, '/' and bytes; it is\n"
    "interpreted, never evaluated as Python.",
    args=(
        Arg("action", metavar=ACTION),
        Arg(
            "--packet",
            metavar="EXPR",
            help='a scapy expression, e.g. "Ether()/IP()"',
            one_of="source",
            one_of_required=True,
        ),
        Arg(
            "--hex",
            metavar="HEX",
            help="packet bytes in hex, from the Ethernet header",
            one_of="source",
            one_of_required=True,
        ),
        Arg(
            "--pcap",
            metavar="FILE",
            help="run on every packet of a pcap file",
            one_of="source",
            one_of_required=True,
        ),
        Arg("--in-port", type=int, default=0, help="OVS input port (cb[0]); default 0"),
        Arg("--arg", type=int, default=0, help="the flow's argument (cb[1]); default 0"),
        Arg("--mark", type=int, default=0, help="skb mark (OVS pkt_mark) going in"),
        Arg("--priority", type=int, default=0, help="skb priority going in"),
        Arg("--program", help="which program of the object (default: the first)"),
        Arg(
            "--repeat",
            type=int,
            default=1,
            help="runs per packet, 1 to 1000000; the time shown is the average",
        ),
        Arg(
            "--maps",
            action="store_true",
            help="show the action's maps after the runs, decoded with their BTF types",
        ),
        Arg(
            "--all-maps",
            action="store_true",
            help="like --maps, with the global-variable maps (.bss, .data, .rodata) too",
        ),
    ),
    common="typed",
    run=cmd_run,
    render=text_run,
)

MAPS = Command(
    name="maps",
    group=BUILD_AND_RUN,
    help="show the maps of a loaded action, decoded with their BTF types",
    description="Read the maps an action pinned with `extframe load` (under "
    "/sys/fs/bpf/extframe/NAME/map/), or, with --switch, those of an action registered "
    "on a switch: the kernel's for an action the kernel runs, the switch's own for one "
    "it runs in-process (`kept_by` says which in --json). Print every entry, decoded "
    "with the BTF types "
    "the kernel keeps for each map. Integers are in host order; __be16/__be32 fields "
    "are converted from network order, a __be32 is shown as an IPv4 address, __u8[6] "
    "as a MAC and __u8[16] as an IPv6 address; structs are {member = value}. The same "
    "notation is what vectors files accept. All-zero array entries are not shown. A "
    "per-CPU map shows a list of values, one for each CPU the kernel may run programs "
    "on, CPU 0 first; --set of one value into a per-CPU map the switch keeps sets it "
    "for every CPU. A ring buffer holds no entries to show (`extframe mirror` reads "
    "one).",
    examples=(
        Example("load actions/port_counter.c"),
        Example("maps port_counter"),
        Example("maps policer --map policer_config --json"),
        Example("maps count --switch /run/extframe/sandbox"),
        Example(
            "maps policer --switch /run/extframe/sandbox --map policer_config "
            "--set '1={rate_bytes_per_sec = 125000, burst_bytes = 20000, pad = 0}'"
        ),
        Example('run actions/flow_counter.c --packet "Ether()/IP()/UDP()" --maps'),
    ),
    args=(
        Arg("name", metavar="NAME", help="the name the action was loaded under"),
        Arg("--map", help="only this map"),
        Arg("--all", action="store_true", help="include .bss/.data/.rodata maps"),
        Arg("--root", help="bpffs folder of loaded actions (default /sys/fs/bpf/extframe)"),
        Arg(
            "--switch",
            help="the maps of NAME as registered on this switch (its run directory, or "
            "unix:PATH of its database socket) instead of a loaded action",
        ),
        Arg(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="store VALUE under KEY in --map first, both in the vectors files' notation "
            "(1={packets = 0, bytes = 0}); may be repeated",
        ),
        Arg(
            "--delete",
            action="append",
            default=[],
            metavar="KEY",
            help="remove KEY from --map first (not from an array); may be repeated",
        ),
    ),
    run=cmd_maps,
    render=text_maps,
)

VECTORS = Command(
    name="vectors",
    group=BUILD_AND_RUN,
    help="check actions against their packet test vectors",
    description="For each action, load it and run the vectors in ACTION.vectors.toml "
    "beside it; exit 1 if any vector fails. A folder stands for every action in it.",
    examples=(Example("vectors actions/*.c"), Example("vectors actions/")),
    args=(Arg("actions", nargs="+", metavar=f"{ACTION}|DIR"),),
    common="typed",
    run=cmd_vectors,
    render=text_vectors,
)

LIBRARY = Command(
    name="library",
    group=BUILD_AND_RUN,
    help="the bundled actions: proven effects, verifier, vectors",
    description="Build, load, analyse, pin, run the vectors of and unload every action in "
    "actions/, then show one run field by field. Pins go to a private folder of bpffs "
    "that is removed at the end.",
    examples=(Example("make demo", "runs this, then `extframe demo`", shell=True),),
    common="typed",
    run=cmd_library,
    render=text_library,
)

COMMANDS = (BUILD, LOAD, UNLOAD, RUN, MAPS, VECTORS, LIBRARY)
