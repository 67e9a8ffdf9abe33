"""The command table: every documented example parses, in any order of its options.

Pure parsing: no command runs. Each example of every ``--help`` is parsed
as written, with all its options moved before its positional arguments, and
with all of them moved after: the three must give the same arguments.
"""

from __future__ import annotations

import argparse
import shlex

import pytest

from extframe.cli import COMMANDS, parse, parser
from extframe.command import GROUPS, Command, Example

EXAMPLES = [
    pytest.param(c, e, id=f"{c.name}: {e.args}")
    for c in COMMANDS.values()
    for e in c.examples
    if not e.shell
]


def _split(command: Command, tokens: list[str]) -> tuple[list[list[str]], list[str]]:
    """The option groups (an option and its value) and the positional arguments of ``tokens``."""
    actions = command.parser()._option_string_actions
    options: list[list[str]] = []
    positionals: list[str] = []
    i = 0
    while i < len(tokens):
        action = actions.get(tokens[i])
        if action is None:
            positionals.append(tokens[i])
            i += 1
            continue
        takes = 0 if action.nargs == 0 else 1
        options.append(tokens[i : i + 1 + takes])
        i += 1 + takes
    return options, positionals


def _parsed(argv: list[str]) -> dict[str, object]:
    command, args = parse(argv)
    assert command.name == argv[0]
    return vars(args)


@pytest.mark.parametrize(("command", "example"), EXAMPLES)
def test_every_example_parses_with_its_options_anywhere(command: Command, example: Example) -> None:
    tokens = shlex.split(example.args)
    if tokens[0] != command.name:  # an example of another command, shown for context
        assert tokens[0] in COMMANDS
    name, rest = tokens[0], tokens[1:]
    options, positionals = _split(COMMANDS[name], rest)
    flat = [t for group in options for t in group]
    as_written = _parsed([name, *rest])
    assert _parsed([name, *flat, *positionals]) == as_written
    assert _parsed([name, *positionals, *flat]) == as_written


def test_an_option_before_the_positionals_it_follows_in_help() -> None:
    """The order users type from ``--help``: extframe flow add --switch RUNDIR "FLOW"."""
    _, args = parse(["flow", "add", "--switch", "/run/openvswitch", "in_port=1,actions=drop"])
    assert (args.verb, args.flows, args.switch) == (
        "add",
        ["in_port=1,actions=drop"],
        "/run/openvswitch",
    )
    _, args = parse(["check", "--locked", "a.c", "--type", "tc", "b.c"])
    assert (args.paths, args.locked, args.type) == (["a.c", "b.c"], True, "tc")


def test_help_lists_every_command_once_with_one_line_grouped() -> None:
    text = parser().format_help()
    heads = [text.index(f"\n{g}:\n") for g in GROUPS]
    assert heads == sorted(heads), "the groups are not in their order"
    for c in COMMANDS.values():
        assert "\n" not in c.help and c.group in GROUPS
        line = f"\n  {c.name} "
        assert text.count(line) == 1, c.name
        at = text.index(line)
        group = max((h, g) for h, g in zip(heads, GROUPS, strict=True) if h < at)[1]
        assert group == c.group, c.name


def test_every_command_teaches_with_examples_and_exit_codes() -> None:
    for c in COMMANDS.values():
        text = c.parser().format_help()
        assert c.examples, c.name
        assert "example" in text and "exit status" in text, c.name
        assert all(e.text() in text for e in c.examples), c.name


def test_a_subparser_of_the_whole_tree_is_the_commands_own() -> None:
    """``extframe COMMAND --help`` shows the same through either parser."""
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert sorted(sub) == sorted(COMMANDS)
    for name, c in COMMANDS.items():
        assert sub[name].format_help() == c.parser().format_help()
