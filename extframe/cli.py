"""The extframe command line: a dispatcher over the commands' declarations.

Each command is declared once, beside its code (extframe/command.py says
how); this module collects them, parses (options and positional arguments
in any order), runs the command and prints its result once as text or, with
``--json``, as JSON (bpftool's conventions: snake_case keys with units in
their names, errors as ``{"error": "..."}``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from extframe import __version__, prove_commands, run_commands
from extframe import gate as gates
from extframe.command import EXIT_CODES, Command, overview, status_of
from extframe.errors import BuildError, ExtframeError, VerifierError
from extframe.mirror import commands as mirror_commands
from extframe.ovs import commands as ovs_commands
from extframe.sarif import sarif_log

#: Every command, in the order of ``extframe --help`` within each group.
COMMANDS: dict[str, Command[Any]] = {
    c.name: c
    for c in (
        *run_commands.COMMANDS,
        *prove_commands.COMMANDS,
        *ovs_commands.COMMANDS,
        *mirror_commands.COMMANDS,
    )
}

EXAMPLES = """\
examples:
  extframe build actions/dec_ttl.c
  extframe run actions/dec_ttl.c --packet "Ether()/IP(ttl=5)/UDP()"
  extframe load actions/port_counter.c && extframe unload port_counter
  extframe vectors actions/*.c
  extframe demo                                 # the whole loop on a sandbox OVS
  extframe sandbox start --hosts 2 && extframe register ttl actions/dec_ttl.c
  extframe COMMAND --help                       # each command's options and examples
"""


def parser() -> argparse.ArgumentParser:
    """The whole command line: ``extframe COMMAND ...``, one subparser per command."""
    top = argparse.ArgumentParser(
        prog="extframe",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Custom Open vSwitch actions in C, compiled to eBPF and checked by the "
        "kernel verifier.\n\n" + overview(list(COMMANDS.values())),
        epilog=EXAMPLES + "\n" + EXIT_CODES,
    )
    top.add_argument("--version", action="version", version=f"extframe {__version__}")
    sub = top.add_subparsers(
        dest="command",
        metavar="COMMAND",
        required=True,
        help="one of the commands above; extframe COMMAND --help shows its options",
    )
    for c in COMMANDS.values():
        # No help= here: the grouped list above names every command once.
        c.add_to(
            sub.add_parser(
                c.name,
                formatter_class=argparse.RawDescriptionHelpFormatter,
                description=c.description,
                epilog=c.epilog(),
            )
        )
    return top


def parse(argv: Sequence[str]) -> tuple[Command[Any], argparse.Namespace]:
    """The command ``argv`` names and its arguments, options before or after positionals."""
    if argv and argv[0] in COMMANDS:
        command = COMMANDS[argv[0]]
        args = command.parser().parse_intermixed_args(argv[1:])
    else:  # --help, --version, no command or an unknown one: argparse says it
        args = parser().parse_args(argv)
        command = COMMANDS[args.command]
    args.command = command.name
    return command, args


def main(
    argv: list[str] | None = None,
    parsed: tuple[Command[Any], argparse.Namespace] | None = None,
) -> int:
    """Run the command ``argv`` names (or the one ``parse`` already made of it)."""
    # A file name is bytes to Linux: one that is not UTF-8 is printed as the
    # bytes it is, whatever the locale, never a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    command, args = parsed or parse(sys.argv[1:] if argv is None else argv)
    try:
        result = command.run(args)
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
            text = command.render(result)
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
        out: dict[str, Any] = {"error": e.message}
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
