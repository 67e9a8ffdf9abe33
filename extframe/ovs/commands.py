"""The OVS commands: register, replace, unregister, list, restore, flow, sandbox, demo.

Each ``cmd_*`` returns plain data and each ``text_*`` renders it; the
declarations at the end are what the CLI is built from (extframe/command.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal, TypedDict

from extframe.command import EXIT_CODES as COMMON_EXIT_CODES
from extframe.command import SANDBOX, SWITCH, Arg, Command, Example
from extframe.errors import OvsError
from extframe.ovs import demo, registry
from extframe.ovs.fields import describe
from extframe.ovs.options import OPTIONS
from extframe.ovs.sandbox import MAX_HOSTS, Sandbox, Started, Status, Stopped
from extframe.ovs.switch import Switch, require_root

EXIT_CODES = """\
exit status:
  0  success
  2  usage, build or environment error: the switch is not running, the name is taken,
     the action's effects could not be proved (without --allow-unknown), ...
  3  the kernel verifier rejected the action
"""

RESTORE_EXIT_CODES = """\
exit status:
  0  every recorded action the switch lacked is registered again, or dropped
     because its pinned program is gone or another (said with the reason)
  1  the switch refused some for now (out of descriptors, ...): their records and
     pins are kept; run restore again once the cause is gone
  2  usage or environment error: the switch is not running, the pin folder is
     not root's own, ...
"""

SWITCH_HELP = (
    "the switch: its run directory (where db.sock and ovs-vswitchd.pid are) or its "
    "database socket (unix:PATH); default $EXTFRAME_SWITCH, else the sandbox"
)


# ---------------------------------------------------------------- results


class StartResult(Started):
    verb: Literal["start"]


class StopResult(Stopped):
    verb: Literal["stop"]


class StatusResult(Status):
    verb: Literal["status"]


SandboxResult = StartResult | StopResult | StatusResult


class RegisterResult(TypedDict):
    verb: str  # "registered" or "replaced"
    record: registry.Record
    decision: str
    #: What --json prints: the record's fields with the verb and the decision.
    json: dict[str, Any]


class ListResult(TypedDict):
    actions: list[dict[str, Any]]
    json: list[dict[str, Any]]


class RestoreResult(registry.Restored):
    switch: str


class FlowResult(TypedDict):
    verb: Literal["add", "del", "dump"]
    bridge: str
    flows: list[str]


# ---------------------------------------------------------------- sandbox


def _switch(args: argparse.Namespace) -> Switch:
    """The switch ``--switch`` names; every command on a switch needs root."""
    require_root(args.command)
    return Switch.named(args.switch)


def _sandbox(args: argparse.Namespace) -> Sandbox:
    require_root(f"sandbox {args.verb}")
    return Sandbox(Path(args.run_dir) if args.run_dir else None, prefix=args.prefix)


def cmd_sandbox(args: argparse.Namespace) -> SandboxResult:
    sb = _sandbox(args)
    if args.verb == "start":
        return {"verb": "start", **sb.start(hosts=args.hosts)}
    if args.verb == "stop":
        return {"verb": "stop", **sb.stop()}
    return {"verb": "status", **sb.status()}


def text_sandbox(r: SandboxResult) -> str:
    if r["verb"] == "stop":
        if not r["was_running"] and not r["removed_hosts"] and not r["removed_pins"]:
            return f"the sandbox in {r['run_dir']} was not running; nothing to remove"
        parts = [f"stopped the sandbox in {r['run_dir']}"]
        if r["removed_hosts"]:
            parts.append(f"removed hosts {', '.join(r['removed_hosts'])}")
        if r["removed_pins"]:
            parts.append(f"removed {len(r['removed_pins'])} pins")
        return "; ".join(parts)
    if not r["running"]:
        return f"the sandbox in {r['run_dir']} is not running (`extframe sandbox start`)"
    head, recovery = "running", []
    if r["verb"] == "start":
        head = "started" if r["started"] else "recovered" if r.get("restarted") else "running"
        recovery = _recovery_lines(r)
    lines = [
        f"sandbox {head}: {r['run_dir']} (ovs-vswitchd pid {r['ovs_vswitchd_pid']}, "
        f"ovsdb-server pid {r['ovsdb_server_pid']}), bridge {r['bridge']} (userspace datapath)"
    ]
    lines += recovery
    for h in r["hosts"]:
        lines.append(
            f"  host {h['name']}: namespace {h['netns']}, {h['ip']}/24, {h['mac']}, "
            f"br0 port {h['ofport']} ({h['ifname']})"
        )
    if r.get("actions"):
        lines.append(f"  actions: {', '.join(r.get('actions', []))}")
    lines.append(f"  run a command on a host: ip netns exec {r['prefix']}-h1 ping 10.0.0.2")
    return "\n".join(lines)


def _recovery_lines(r: StartResult) -> list[str]:
    """What ``start`` restarted and restored after a daemon of the sandbox died."""
    restarted = r.get("restarted", [])
    if not restarted:
        return []
    lines = [f"  restarted {', '.join(restarted)}; the database, hosts and pins were kept"]
    if "ovs-vswitchd" in restarted:
        lines.append(
            "  re-registered from extframe's records: "
            + (", ".join(r.get("restored", [])) or "nothing (no action was registered)")
        )
        lines += [f"  dropped {d['name']}: {d['why']}" for d in r.get("dropped", [])]
        lines += [
            f"  not yet {d['name']}: {d['why']} (kept; `extframe restore` tries again)"
            for d in r.get("failed", [])
        ]
        lines.append("  OpenFlow flows live in ovs-vswitchd and died with it: add them again")
    return lines


# ---------------------------------------------------------------- registry


def cmd_register(args: argparse.Namespace) -> RegisterResult:
    """``register`` and ``replace``: the same proof, a different registry call."""
    verb = registry.register if args.command == "register" else registry.replace
    record = verb(
        _switch(args),
        args.name,
        Path(args.action),
        program=args.program,
        allow_unknown=args.allow_unknown,
        force_reclassify=args.reclassify == "yes",
        options={o.key: getattr(args, o.key) for o in OPTIONS if o.operator},
    )
    done = "registered" if args.command == "register" else "replaced"
    decision = record.decision()
    return {
        "verb": done,
        "record": record,
        "decision": decision,
        "json": {"verb": done} | record.model_dump(mode="json") | {"decision": decision},
    }


def text_record(r: RegisterResult) -> str:
    rec = r["record"]
    fields = ", ".join(rec.fields) or "none"
    lines = [
        f"{r['verb']} {rec.name}: {rec.source} ({rec.program}), verdict {rec.verdict}, "
        f"writes {fields}",
        f"  {r['decision']}: {rec.arguments()}",
    ]
    lines += [f"  {reason}" for reason in rec.reasons]
    if rec.unrunnable == "pass":
        lines.append(
            "  unrunnable=pass: packets the kernel cannot run it on go on unchanged"
            + ("" if rec.verdict == "read_only" else ", without its writes")
        )
    if rec.runs_on == "inproc":
        lines.append("  runs in-process in ovs-vswitchd (its instructions match the kernel's tag)")
    elif rec.runs_on == "kernel":
        lines.append(
            f"  runs in the kernel (BPF_PROG_TEST_RUN, a system call per packet): "
            f"{rec.runs_on_reason}"
        )
    lines.append(f"  pinned at {rec.pin_folder}")
    lines.append(f"  flows can now say: actions=bpf({rec.name}),...")
    return "\n".join(lines)


def cmd_unregister(args: argparse.Namespace) -> registry.Unregistered:
    return registry.unregister(_switch(args), args.name, force=args.force)


def text_unregister(r: registry.Unregistered) -> str:
    line = f"unregistered {r['name']} (removed {len(r['removed'])} pins and records)"
    if r["flows_still_using"]:
        line += (
            f"; {len(r['flows_still_using'])} flow(s) still name it and drop their packets "
            "until it is registered again"
        )
    return line


def cmd_list(args: argparse.Namespace) -> ListResult:
    actions = registry.list_actions(_switch(args))
    return {"actions": actions, "json": actions}


def text_list(r: ListResult) -> str:
    if not r["actions"]:
        return "no actions registered"
    rows = [
        (
            "name",
            "verdict",
            "reclassify",
            "fields",
            "packets",
            "drops",
            "errors",
            "unrunnable",
            "runs on",
            "avg ns",
        )
    ]
    for a in r["actions"]:
        avg = a["run_time_ns"] // a["packets"] if a["packets"] else 0
        rows.append(
            (
                a["name"],
                a["verdict"] or "(not extframe's)",
                a["reclassify"],
                _fields_shown(a),
                str(a["packets"]),
                str(a["drops"]),
                str(a["errors"]),
                f"{a['unrunnable_packets']} {'passed' if a['unrunnable'] == 'pass' else 'dropped'}",
                a["runs_on"],
                str(avg),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _fields_shown(a: dict[str, Any]) -> str:
    """The switch's fields, with the analyzer names behind them where extframe's record says."""
    basis = a["field_basis"]
    if basis and sorted(basis) == sorted(a["fields"]):
        return describe(basis)
    return ",".join(a["fields"]) or "-"


def cmd_restore(args: argparse.Namespace) -> RestoreResult:
    switch = _switch(args)
    return {"switch": str(switch.run_dir), **registry.restore(switch)}


def text_restore(r: RestoreResult) -> str:
    lines = [
        f"re-registered on {r['switch']}: "
        + (", ".join(r["restored"]) or "nothing (the switch had every action of the records)")
    ]
    lines += [f"dropped {d['name']}: {d['why']}" for d in r["dropped"]]
    lines += [f"not yet {d['name']}: {d['why']} (kept; run restore again)" for d in r["failed"]]
    if r["removed"]:
        lines.append(f"removed {len(r['removed'])} files no registration used")
    return "\n".join(lines)


# ---------------------------------------------------------------- flows


def cmd_flow(args: argparse.Namespace) -> FlowResult:
    switch = _switch(args)
    switch.require_running()
    if args.bridge not in switch.bridges():
        known = ", ".join(switch.bridges()) or "none"
        raise OvsError(f"no bridge {args.bridge!r} on {switch.run_dir} (bridges: {known})")
    if args.verb == "add":
        if not args.flows:
            raise OvsError('name the flow to add: extframe flow add "in_port=1,actions=..."')
        for flow in args.flows:
            switch.ofctl("add-flow", args.bridge, flow)
        return {"verb": "add", "bridge": args.bridge, "flows": args.flows}
    if args.verb == "del":
        switch.ofctl("del-flows", args.bridge, *args.flows)
        return {"verb": "del", "bridge": args.bridge, "flows": args.flows}
    dumped = [
        line.strip()
        for line in switch.ofctl("dump-flows", args.bridge).splitlines()
        if "actions=" in line
    ]
    return {"verb": "dump", "bridge": args.bridge, "flows": dumped}


def text_flow(r: FlowResult) -> str:
    if r["verb"] == "add":
        return "\n".join(f"added to {r['bridge']}: {f}" for f in r["flows"])
    if r["verb"] == "del":
        what = ", ".join(r["flows"]) or "every flow"
        return f"deleted from {r['bridge']}: {what}"
    return "\n".join(r["flows"]) or f"{r['bridge']} has no flows"


# ---------------------------------------------------------------- declarations

SANDBOX_CMD = Command(
    name="sandbox",
    group=SANDBOX,
    help="start, stop or show the embedded Open vSwitch",
    description="The sandbox is a patched ovs-vswitchd and its ovsdb-server, run from the "
    "cached build (ovs_patches/build.sh) with their files in a private run directory "
    "(default /run/extframe/sandbox, or $EXTFRAME_SANDBOX), with bridge br0 on the "
    "userspace datapath (fail-mode=secure: nothing is forwarded until flows say so).\n"
    "--hosts N adds hosts h1..hN: network namespaces efsb-hN whose eth0 (10.0.0.N/24, "
    "MAC 02:00:00:00:00:0N) is joined by a veth pair to br0 port N.\n"
    "start on a running sandbox only adds missing hosts; after a daemon died it restarts "
    "only that one and registers the actions again (as `extframe restore`); stop leaves "
    "no process, pin, namespace or interface behind (the logs stay in the run directory).",
    examples=(
        Example("sandbox start --hosts 2"),
        Example("ip netns exec efsb-h1 ping -c 1 10.0.0.2", "after flows forward it", shell=True),
        Example("sandbox status --json"),
        Example("sandbox stop"),
    ),
    args=(
        Arg("verb", choices=("start", "stop", "status")),
        Arg("--hosts", type=int, default=0, help=f"hosts to attach, 0 to {MAX_HOSTS} (start)"),
        Arg("--run-dir", help="the sandbox's run directory (default /run/extframe/sandbox)"),
        Arg(
            "--prefix",
            help="names of its namespaces and interfaces, PREFIX-hN and PREFIX-sw (at most 10 "
            "letters and digits; default efsb for the default run directory, efs and a hash "
            "of the run directory for another); one sandbox's prefix is never another's",
        ),
    ),
    exit_codes=EXIT_CODES,
    run=cmd_sandbox,
    render=text_sandbox,
)


def _registration_args(verb: str) -> tuple[Arg, ...]:
    return (
        Arg("name", metavar="NAME", help="what flows call it: bpf(NAME); 1-15 chars"),
        Arg("action", metavar="ACTION.c|ACTION.o"),
        Arg("--program", help="which program of the object (default: its only one)"),
        Arg(
            "--allow-unknown",
            action="store_true",
            help="register an action whose effects could not be proved, as writing every field "
            "(reclassify=lazy fields=unknown)",
        ),
        *(
            Arg(
                f"--{o.key}",
                choices=o.choices() or None,
                default=o.default,
                help=f"{o.help}. Each {verb} states its own (default {o.default})",
            )
            for o in OPTIONS
            if o.operator
        ),
        Arg(
            "--reclassify",
            choices=("proof", "yes"),
            default="proof",
            help="proof (default): as the analysis decides (no, or lazy with the fields it "
            "may change); yes: re-classify right after the action, even a proven read-only "
            "one, as a switch without the analysis must (for benchmarks and comparisons). "
            "Nothing forces no or lazy",
        ),
        Arg("--switch", help=SWITCH_HELP),
    )


def _registration_examples(verb: str) -> tuple[Example, ...]:
    return (
        Example(f"{verb} policer actions/policer.c"),
        Example(f"{verb} ttl actions/dec_ttl.c --switch /run/openvswitch"),
        Example('flow add "in_port=1,actions=bpf(policer),output:2"'),
    )


REGISTER = Command(
    name="register",
    group=SWITCH,
    help="add an action on a running switch, re-classified as its analysis says",
    description="Build (for .c), load through the kernel verifier, analyse, pin under "
    "/sys/fs/bpf/extframe_ovs/SWITCH/NAME/ and register with ovs-vswitchd "
    "(ovs-appctl bpf/add) so that flows can say bpf(NAME). The verdict decides "
    "re-classification (freeze and recirculate):\n"
    "  read_only                      reclassify=no\n"
    "  writes to payload/checksums    reclassify=no\n"
    "  writes to the flow key         reclassify=lazy fields=what they may change, in\n"
    "                                 OVS's names (nw_ttl for ip.ttl; unknown, every\n"
    "                                 field, for a length change): the switch recirculates\n"
    "                                 only before a step that reads one of them\n"
    "  unknown                        refused; --allow-unknown registers it with\n"
    "                                 reclassify=lazy fields=unknown\n"
    "It prints the decision and its basis, each OVS field with the analyzer's names behind "
    "it: nw_ttl (ip.ttl, ipv6.hop_limit).\n"
    "A failure at any step leaves nothing: no pin, no registration.",
    examples=_registration_examples("register"),
    args=_registration_args("register"),
    exit_codes=EXIT_CODES,
    run=cmd_register,
    render=text_record,
)

REPLACE = Command(
    name="replace",
    group=SWITCH,
    help="swap in an action on a running switch, re-classified as its analysis says",
    description="Prove the new program as `register` does, then swap it in under the same "
    "name while traffic flows: ovs-vswitchd swaps the program under RCU, so no "
    "packet meets a freed program, and revalidates its datapath flows with the new "
    "re-classification. The new program's maps start empty: state is not carried "
    "over. On failure the old program stays.",
    examples=_registration_examples("replace"),
    args=_registration_args("replace"),
    exit_codes=EXIT_CODES,
    run=cmd_register,
    render=text_record,
)

UNREGISTER = Command(
    name="unregister",
    group=SWITCH,
    help="remove an action from a switch",
    description="Delete the action from ovs-vswitchd's registry and remove its pins. "
    "Refused while OpenFlow flows name it, unless --force: those flows then drop their "
    "packets until an action of that name is registered again.",
    examples=(Example("unregister policer"),),
    args=(
        Arg("name", metavar="NAME"),
        Arg("--force", action="store_true", help="even while flows use it"),
        Arg("--switch", help=SWITCH_HELP),
    ),
    exit_codes=EXIT_CODES,
    run=cmd_unregister,
    render=text_unregister,
)

LIST = Command(
    name="list",
    group=SWITCH,
    help="the actions a switch has, with verdicts and counters",
    description="Every action registered with the switch: the verdict extframe proved, "
    "when the switch re-classifies after it (no; lazy: before a step that reads one of its "
    "fields; yes: right after it), those fields (OVS's names, with the analyzer's behind "
    "them), and the switch's "
    "counters (packets run, dropped by the program, dropped by an error, packets the "
    "kernel refused to run it on and whether those were dropped or passed, average run "
    "time). --json keys: name, verdict, reclassify (yes, no or lazy), fields (OVS field "
    "names, as the switch has them), proved_fields (the analyzer's names of what it writes), "
    "field_basis (each of fields with the analyzer's names behind it), unrunnable (drop or "
    "pass), source, registered_by_extframe, program_pin, prog_id, maps, runs_on (inproc: "
    "ovs-vswitchd's own executor; kernel: BPF_PROG_TEST_RUN), runs_on_reason (why the "
    "kernel), insns, executor, packets, drops, errors, unrunnable_packets, run_time_ns, "
    "replaced.",
    examples=(Example("list --json"),),
    args=(Arg("--switch", help=SWITCH_HELP),),
    exit_codes=EXIT_CODES,
    run=cmd_list,
    render=text_list,
)

RESTORE = Command(
    name="restore",
    group=SWITCH,
    help="register again what a restarted ovs-vswitchd lost",
    description="ovs-vswitchd keeps its bpf registry in memory: after it restarts (a "
    "crash, systemd, an upgrade) the actions are gone, while extframe's records and pins "
    "stay. restore adds each recorded action the switch lacks again, with the decision "
    "of its proof, if its pin still holds the very program that was proved (the kernel's "
    "program id); it drops, and says why, a record whose program is gone, and removes "
    "pins no registration uses; an action the switch refuses for now (out of descriptors) "
    "keeps its record and pins for the next restore. `extframe sandbox start` does this by "
    "itself after a "
    "crash of the sandbox's ovs-vswitchd. OpenFlow flows are not restored: they are the "
    "controller's to add again.",
    examples=(Example("restore --switch /run/openvswitch"),),
    args=(Arg("--switch", help=SWITCH_HELP),),
    exit_codes=RESTORE_EXIT_CODES,
    run=cmd_restore,
    render=text_restore,
)

FLOW = Command(
    name="flow",
    group=SWITCH,
    help="add, delete or show OpenFlow flows (a thin ovs-ofctl)",
    description="A thin helper over ovs-ofctl add-flow / del-flows / dump-flows on the "
    "switch's bridge; ovs-ofctl itself works unchanged on the same bridge.",
    examples=(
        Example('flow add "in_port=1,ip,actions=bpf(policer),output:2"'),
        Example(
            'flow add "table=0,ip,actions=bpf(ttl),resubmit(,1)" '
            '"table=1,ip,nw_ttl=63,actions=output:2"'
        ),
        Example('flow add --switch /run/openvswitch "in_port=1,actions=output:2"'),
        Example("flow dump"),
        Example('flow del "in_port=1"'),
    ),
    args=(
        Arg("verb", choices=("add", "del", "dump")),
        Arg("flows", nargs="*", metavar="FLOW"),
        Arg("--bridge", default="br0", help="default br0"),
        Arg("--switch", help=SWITCH_HELP),
    ),
    exit_codes=EXIT_CODES,
    run=cmd_flow,
    render=text_flow,
)

DEMO = Command(
    name="demo",
    group=SANDBOX,
    help="the whole loop on the sandbox switch, with real packets",
    description=demo.__doc__ or "",
    examples=(Example("make demo", "installs what is missing, then runs this", shell=True),),
    args=(
        Arg("--run-dir", help="the sandbox's run directory (default: a private temporary one)"),
        Arg("--keep", action="store_true", help="leave the sandbox running at the end"),
    ),
    exit_codes=COMMON_EXIT_CODES,
    run=demo.cmd_demo,
    render=demo.text_demo,
)

COMMANDS = (REGISTER, REPLACE, UNREGISTER, LIST, RESTORE, FLOW, SANDBOX_CMD, DEMO)
