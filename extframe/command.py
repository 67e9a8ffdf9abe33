"""The command type: one declaration per command, from which the CLI is built.

A command is data (the pattern of bpftool's command tables): its name, the
group ``extframe --help`` lists it in, a one-line help, a description, its
examples, its arguments, the function that runs it and returns a result,
the function that renders that result as text, and its exit codes. Each
package declares its own beside its code (``extframe/run_commands.py``,
``extframe/prove_commands.py``, ``extframe/ovs/commands.py``,
``extframe/mirror/commands.py``); ``extframe/cli.py`` only collects them,
parses and prints.

Adding a command::

    MY_COMMAND = Command(
        name="hello",
        group=SWITCH,
        help="say hello to a switch",
        description="Longer text for `extframe hello --help`.",
        examples=(Example("hello --switch /run/openvswitch"),),
        args=(Arg("--switch", help=SWITCH_HELP),),
        run=cmd_hello,          # argparse.Namespace -> HelloResult (a TypedDict: also the JSON)
        render=text_hello,      # HelloResult -> str
    )

and list it in its module's ``COMMANDS``. Options and positional arguments
may come in any order (``parse_intermixed_args``), and every example is
parsed by the test suite (``tests/unit/test_cli_table.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from extframe.errors import VerifierError
from extframe.kernel import PROG_TYPES

#: What a command returns: a TypedDict of its own (plain data), printed as
#: text by its renderer or, with --json, as JSON (its "json" key if it has
#: one, else the whole of it). The CLI reads only "json", "sarif",
#: "findings", "rejected" and "failed" of any result.
Result = Mapping[str, Any]
R = TypeVar("R", bound=Mapping[str, Any])

#: The groups of ``extframe --help``, in the order it lists them.
BUILD_AND_RUN = "build and run"
PROVE_AND_GATE = "prove and gate"
SWITCH = "switch"
MIRROR = "mirror"
SANDBOX = "sandbox"
GROUPS = (BUILD_AND_RUN, PROVE_AND_GATE, SWITCH, MIRROR, SANDBOX)

EXIT_CODES = """\
exit status:
  0  success
  1  an action did not do what its vectors say (vectors, library), or a demo
     check failed
  2  usage, input, build or environment error
  3  the kernel verifier rejected a program
"""

#: The shared options a command takes: none beyond --json and --verbose
#: ("plain"), also --type ("typed"), also --no-kernel and --raw ("analysis").
Common = Literal["plain", "typed", "analysis"]


@dataclass(frozen=True)
class Arg:
    """One argument, as ``argparse.ArgumentParser.add_argument`` takes it.

    ``one_of`` names a mutually exclusive group; ``one_of_required`` makes
    one of that group's options required.
    """

    flags: tuple[str, ...]
    kwargs: dict[str, Any]
    one_of: str | None = None
    one_of_required: bool = False

    def __init__(
        self,
        *flags: str,
        one_of: str | None = None,
        one_of_required: bool = False,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "one_of", one_of)
        object.__setattr__(self, "one_of_required", one_of_required)


@dataclass(frozen=True)
class Example:
    """One line of a command's examples: ``extframe ARGS`` unless ``shell``.

    ``shell`` examples are other programs' command lines (``ip netns exec
    ...``, ``make demo``), shown as they are and not parsed by the tests.
    """

    args: str
    comment: str = ""
    shell: bool = False

    def text(self) -> str:
        """The command line as a user types it."""
        return self.args if self.shell else f"extframe {self.args}"


@dataclass(frozen=True)
class Command(Generic[R]):
    """A command of the CLI, declared once; ``R`` is the type of its result."""

    name: str
    group: str
    help: str
    description: str
    examples: tuple[Example, ...]
    run: Callable[[argparse.Namespace], R]
    render: Callable[[R], str]
    args: tuple[Arg, ...] = ()
    common: Common = "plain"
    exit_codes: str = EXIT_CODES
    #: Text between the examples and the exit codes (notes on --json keys, ...).
    notes: str = ""

    def epilog(self) -> str:
        parts = []
        if self.examples:
            title = "example:" if len(self.examples) == 1 else "examples:"
            width = (
                max(len(e.text()) for e in self.examples if e.comment)
                if any(e.comment for e in self.examples)
                else 0
            )
            lines = [
                f"  {e.text().ljust(width)}   # {e.comment}" if e.comment else f"  {e.text()}"
                for e in self.examples
            ]
            parts.append(title + "\n" + "\n".join(lines))
        if self.notes:
            parts.append(self.notes.rstrip("\n"))
        parts.append(self.exit_codes.rstrip("\n"))
        return "\n\n".join(parts) + "\n"

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments and shared options to ``parser``."""
        groups: dict[str, Any] = {}
        for a in self.args:
            target: Any = parser
            if a.one_of is not None:
                if a.one_of not in groups:
                    groups[a.one_of] = parser.add_mutually_exclusive_group(
                        required=a.one_of_required
                    )
                target = groups[a.one_of]
            target.add_argument(*a.flags, **a.kwargs)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="on a verifier rejection, print the whole verifier log",
        )
        if self.common == "analysis":
            parser.add_argument(
                "--no-kernel",
                action="store_true",
                help="static analysis only: no load, so never read_only",
            )
            parser.add_argument(
                "--raw",
                action="store_true",
                help="bare bytecode (8-byte instructions, no ELF): fewer names, no lines; "
                "needs --type",
            )
        if self.common in ("typed", "analysis"):
            parser.add_argument(
                "--type",
                choices=sorted(PROG_TYPES),
                help="program type for every program, overriding the ELF section names",
            )

    def parser(self, prog: str = "extframe") -> argparse.ArgumentParser:
        """This command's own parser, as ``extframe NAME`` uses it."""
        p = argparse.ArgumentParser(
            prog=f"{prog} {self.name}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            description=self.description,
            epilog=self.epilog(),
        )
        self.add_to(p)
        return p


def overview(commands: Sequence[Command[Any]]) -> str:
    """Every command with its one-line help, grouped as ``extframe --help`` lists them."""
    width = max(len(c.name) for c in commands) + 2
    out = []
    for group in GROUPS:
        members = [c for c in commands if c.group == group]
        if members:
            out.append(f"{group}:")
            out += [f"  {c.name.ljust(width)}{c.help}" for c in members]
    return "\n".join(out)


def status_of(r: Result) -> int:
    """The exit status a command's result calls for (see the exit codes in --help)."""
    if r.get("rejected"):
        return VerifierError.exit_code
    return 1 if r.get("failed") else 0
