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
from extframe.ovs.registry import Record, _add_args
from extframe.ovs.switch import parse_bpf_list

ACTION = {
    "name": "ttl",
    "path": "/sys/fs/bpf/x/ttl/prog/dec_ttl",
    "prog_id": 7,
    "reclassify": "lazy",
    "fields": ["nw_ttl"],
    "unrunnable": "pass",
    "insns": "/run/extframe/sandbox/extframe/ttl.0123456789abcdef.insns",
    "executor": "auto",
    "runs_on": "inproc",
    "runs_on_reason": "",
}


def test_the_arguments_leave_out_defaults_and_need_the_required() -> None:
    assert arguments({"reclassify": "no", "fields": [], "unrunnable": "drop"}) == ["reclassify=no"]
    assert arguments(
        {"reclassify": "lazy", "fields": ["nw_ecn", "nw_tos"], "unrunnable": "pass"}
    ) == [
        "reclassify=lazy",
        "fields=nw_ecn,nw_tos",
        "unrunnable=pass",
    ]
    with pytest.raises(ValueError, match="reclassify"):
        arguments({"fields": []})


def test_the_switchs_answer_is_read_by_the_table() -> None:
    (reg,) = parse_bpf_list(json.dumps([ACTION])).values()
    assert reg.options == {o.key: ACTION[o.key] for o in OPTIONS}
    assert (reg.reclassify_mode, reg.reclassify, reg.fields) == ("lazy", True, ["nw_ttl"])
    (no,) = parse_bpf_list(json.dumps([ACTION | {"reclassify": "no", "fields": []}])).values()
    assert (no.reclassify_mode, no.reclassify) == ("no", False)
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


BASE = {
    "name": "ttl",
    "source": "actions/dec_ttl.c",
    "program": "dec_ttl",
    "verdict": "writes",
    "flow_key_affected": True,
    "reclassify": True,
    "fields": ["ip.csum", "ip.ttl"],
    "reasons": [],
    "writes": [],
    "pin_folder": "/sys/fs/bpf/x/ttl",
    "program_pin": "/sys/fs/bpf/x/ttl/prog/dec_ttl",
    "maps": [],
    "allow_unknown": False,
    "registered_at": 0.0,
    "unrunnable": "pass",
}


def test_a_record_keeps_what_was_sent() -> None:
    sent = {"reclassify": "lazy", "fields": ["nw_ttl"], "unrunnable": "drop"}
    record = Record.model_validate(
        BASE
        | {
            "reclassify_mode": "lazy",
            "ovs_fields": ["nw_ttl"],
            "field_basis": {"nw_ttl": ["ip.ttl"]},
            "options": sent,
        }
    )
    assert record.sent() == sent
    assert _add_args(record) == [
        "ttl",
        "/sys/fs/bpf/x/ttl/prog/dec_ttl",
        "reclassify=lazy",
        "fields=nw_ttl",
    ]
    assert record.arguments() == "reclassify=lazy fields=nw_ttl"
    assert record.decision() == (
        "re-classify lazily: the switch recirculates only before a step that reads nw_ttl (ip.ttl)"
    )
    again = Record.model_validate_json(record.model_dump_json())
    assert again == record


@pytest.mark.parametrize(
    ("older", "sent"),
    [
        # Before registration options were kept: the booleans alone.
        ({}, {"reclassify": "yes", "fields": [], "unrunnable": "pass"}),
        (
            {"reclassify": False, "flow_key_affected": False, "fields": ["ip.csum"]},
            {"reclassify": "no", "fields": [], "unrunnable": "pass"},
        ),
        # Kept, with reclassify a bool and the analyzer's names in fields=, which the
        # switch no longer takes (with no, it takes none at all).
        (
            {"options": {"reclassify": True, "fields": ["ip.csum", "ip.ttl"], "insns": "/i"}},
            {"reclassify": "yes", "insns": "/i"},
        ),
        (
            {
                "reclassify": False,
                "options": {"reclassify": False, "fields": ["ip.csum"], "unrunnable": "drop"},
            },
            {"reclassify": "no", "unrunnable": "drop"},
        ),
    ],
)
def test_older_records_load_and_restore_with_what_a_switch_takes(
    older: dict[str, object], sent: dict[str, object]
) -> None:
    record = Record.model_validate(BASE | older)
    assert record.reclassify_mode == ("yes" if record.reclassify else "no")
    assert record.sent() == sent
    args = _add_args(record)
    assert f"reclassify={sent['reclassify']}" in args
    assert not any(a.startswith("fields=") for a in args)
    assert record.decision().startswith(
        "re-classify right after it" if record.reclassify else "no re-classification"
    )
