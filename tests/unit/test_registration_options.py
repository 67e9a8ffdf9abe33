"""Registration options are described once (extframe/ovs/options.py); all else follows.

Pure code: the bpf/add arguments, the strict reading of bpf/list --json, the
record's copy and the command-line options all come from the one table.
"""

from __future__ import annotations

import json

import pytest

from extframe.cli import COMMANDS
from extframe.errors import OvsError
from extframe.ovs.options import OPTIONS, REQUIRED, arguments
from extframe.ovs.registry import Record
from extframe.ovs.switch import parse_bpf_list

ACTION = {
    "name": "ttl",
    "path": "/sys/fs/bpf/x/ttl/prog/dec_ttl",
    "prog_id": 7,
    "reclassify": True,
    "fields": ["ip.csum", "ip.ttl"],
    "unrunnable": "pass",
    "insns": "/run/extframe/sandbox/extframe/ttl.0123456789abcdef.insns",
    "executor": "auto",
    "runs_on": "inproc",
    "runs_on_reason": "",
}


def test_the_arguments_leave_out_defaults_and_need_the_required() -> None:
    assert arguments({"reclassify": False, "fields": [], "unrunnable": "drop"}) == ["reclassify=no"]
    assert arguments(
        {"reclassify": True, "fields": ["ip.ttl", "ip.csum"], "unrunnable": "pass"}
    ) == [
        "reclassify=yes",
        "fields=ip.ttl,ip.csum",
        "unrunnable=pass",
    ]
    with pytest.raises(ValueError, match="reclassify"):
        arguments({"fields": []})


def test_the_switchs_answer_is_read_by_the_table() -> None:
    (reg,) = parse_bpf_list(json.dumps([ACTION])).values()
    assert reg.options == {o.key: ACTION[o.key] for o in OPTIONS}
    for o in OPTIONS:  # a switch that does not say an option is out of date
        partial = {k: v for k, v in ACTION.items() if k != o.key}
        with pytest.raises(OvsError, match="patch series may be out of date"):
            parse_bpf_list(json.dumps([partial]))
    with pytest.raises(OvsError, match="Extra inputs"):  # nor one extframe does not know
        parse_bpf_list(json.dumps([ACTION | {"colour": "red"}]))


def test_operator_options_are_command_line_options_of_register_and_replace() -> None:
    for verb in ("register", "replace"):
        flags = COMMANDS[verb].parser()._option_string_actions
        for o in (o for o in OPTIONS if o.operator):
            action = flags[f"--{o.key}"]
            assert action.default == o.default and tuple(action.choices or ()) == o.choices()
        # The proof's options are not the operator's; --reclassify only forces yes.
        assert flags["--reclassify"].choices == ("proof", "yes")
        assert "--fields" not in flags
    # The rest are the proof's or extframe's own (the instructions file).
    assert all(o.operator or o.default is REQUIRED or o.default in ([], "") for o in OPTIONS)


def test_a_record_keeps_what_was_sent_and_reads_older_records() -> None:
    base = {
        "name": "ttl",
        "source": "actions/dec_ttl.c",
        "program": "dec_ttl",
        "verdict": "writes",
        "flow_key_affected": True,
        "reclassify": True,
        "fields": ["ip.ttl"],
        "reasons": [],
        "writes": [],
        "pin_folder": "/sys/fs/bpf/x/ttl",
        "program_pin": "/sys/fs/bpf/x/ttl/prog/dec_ttl",
        "maps": [],
        "allow_unknown": False,
        "registered_at": 0.0,
        "unrunnable": "pass",
    }
    older = Record.model_validate(base)
    assert older.sent() == {"reclassify": True, "fields": ["ip.ttl"], "unrunnable": "pass"}
    sent = {"reclassify": True, "fields": ["ip.ttl"], "unrunnable": "drop"}
    assert Record.model_validate(base | {"options": sent}).sent() == sent
