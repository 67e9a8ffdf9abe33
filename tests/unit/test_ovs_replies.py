"""extframe's reading of the patched ovs-vswitchd's bpf/list --json and bpf/show --json.

The good replies are what lib/bpf-action.c's action_to_json() writes
(json_to_string() with sorted keys); every other reply must be refused with
one line that says the series may be out of date, never read half-way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extframe.errors import MirrorError, OvsError
from extframe.ovs.maps import SwitchRingReader
from extframe.ovs.switch import (
    Registered,
    Switch,
    parse_bpf_list,
    parse_bpf_show,
    parse_map_dump,
    parse_ringbuf_read,
)

# A reply as the switch writes it, with a path that holds a space, quotes and
# a backslash: JSON escapes them, so the path comes back exactly.
LIST = (
    '[{"executor":"auto","fields":[],"insns":"/run/x/count.ab.insns","name":"count",'
    '"path":"/sys/fs/bpf/x/count/prog/port_counter","prog_id":41,"reclassify":"no",'
    '"runs_on":"kernel","runs_on_reason":"insn 5: maps are not yet kept in the switch",'
    '"unrunnable":"drop"},'
    '{"executor":"inproc","fields":["nw_ttl"],"insns":"","name":"ttl",'
    '"path":"/sys/fs/bpf/my dir/a \\"b\\" \\\\c","prog_id":7,"reclassify":"lazy",'
    '"runs_on":"inproc","runs_on_reason":"","unrunnable":"pass"}]\n'
)


def test_bpf_list_reads_every_action_exactly() -> None:
    assert parse_bpf_list(LIST) == {
        "count": Registered(
            name="count",
            path="/sys/fs/bpf/x/count/prog/port_counter",
            prog_id=41,
            options={
                "reclassify": "no",
                "fields": [],
                "unrunnable": "drop",
                "insns": "/run/x/count.ab.insns",
                "executor": "auto",
            },
            runs_on="kernel",
            runs_on_reason="insn 5: maps are not yet kept in the switch",
        ),
        "ttl": Registered(
            name="ttl",
            path='/sys/fs/bpf/my dir/a "b" \\c',
            prog_id=7,
            options={
                "reclassify": "lazy",
                "fields": ["nw_ttl"],
                "unrunnable": "pass",
                "insns": "",
                "executor": "inproc",
            },
            runs_on="inproc",
            runs_on_reason="",
        ),
    }


def test_an_empty_registry() -> None:
    assert parse_bpf_list("[]\n") == {}


def _action(**change: Any) -> dict[str, Any]:
    """The "ttl" action of LIST, with ``change`` applied (None deletes a key)."""
    action: dict[str, Any] = json.loads(LIST)[1]
    for key, value in change.items():
        if value is None:
            del action[key]
        else:
            action[key] = value
    return action


def _refused(parse: Any, reply: str) -> str:
    with pytest.raises(OvsError) as e:
        parse(reply)
    message = e.value.message
    assert "\n" not in message and "series may be out of date" in message, message
    assert "ovs_patches/build.sh" in message
    return message


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        # The text form, which an older series gives for plain bpf/list.
        ("ttl: reclassify=yes path=/p prog_id=7\n", "Invalid JSON"),
        (LIST[:40], "Invalid JSON"),
        ("", "Invalid JSON"),
        (json.dumps(_action()), "Input should be a valid array"),
        (json.dumps([_action(), "x"]), "1: Input should be an object"),
        (json.dumps([_action(prog_id=None)]), "0.prog_id: Field required"),
        (json.dumps([_action(registration_id=3)]), "0.registration_id: Extra inputs"),
        (json.dumps([_action(prog_id="7")]), "0.prog_id: Input should be a valid integer"),
        (json.dumps([_action(prog_id=7.0)]), "0.prog_id: Input should be a valid integer"),
        (json.dumps([_action(prog_id=0)]), "0.prog_id: Input should be greater than or equal"),
        # A series from before lazy re-classification answers a bool.
        (json.dumps([_action(reclassify=True)]), "0.reclassify: Input should be 'yes', 'no'"),
        (json.dumps([_action(reclassify="maybe")]), "0.reclassify: Input should be 'yes', 'no'"),
        (json.dumps([_action(reclassify=1)]), "0.reclassify: Input should be 'yes', 'no'"),
        (json.dumps([_action(fields="nw_ttl,nw_tos")]), "0.fields: Input should be a valid array"),
        (json.dumps([_action(fields=["nw ttl"])]), "'nw ttl' is not a field name"),
        (json.dumps([_action(fields=[""])]), "'' is not a field name"),
        (json.dumps([_action(unrunnable="maybe")]), "0.unrunnable: Input should be 'drop'"),
        (json.dumps([_action(path="sys/fs/bpf/p")]), "0.path: Value error, the path is not"),
        (
            json.dumps([_action(path="/sys/fs/bpf/x\nforged: reclassify=no")]),
            "0.path: Value error, the path holds a control character",
        ),
        (json.dumps([_action(path="/sys/fs/bpf/\x7f")]), "control character"),
        (json.dumps([_action(name="9lives")]), "0.name: String should match pattern"),
        (json.dumps([_action(name="a" * 16)]), "0.name: String should match pattern"),
        (json.dumps([_action(), _action()]), "(ttl is listed twice)"),
        (json.dumps([_action(prog_id=None, reclassify=None)]), "and 1 more"),
        (json.dumps([_action(runs_on=None)]), "0.runs_on: Field required"),
        (json.dumps([_action(runs_on="jit")]), "0.runs_on: Input should be 'inproc' or 'kernel'"),
        (json.dumps([_action(runs_on_reason="a\nforged")]), "holds a control character"),
        (json.dumps([_action(executor="fast")]), "0.executor: Input should be 'auto'"),
        (json.dumps([_action(insns=7)]), "0.insns: Input should be a valid string"),
    ],
)
def test_bpf_list_refuses_a_reply_it_cannot_read(reply: str, words: str) -> None:
    assert words in _refused(parse_bpf_list, reply)


SHOW = (
    '{"drops":1,"engine":"kernel","engine_reason":"","errors":2,"executor":"auto",'
    '"fields":[],"insns":"","name":"mirror",'
    '"packets":5,"path":"/sys/fs/bpf/x/mirror/prog/m","prog_id":42,"prog_name":"m",'
    '"prog_tag":"0123456789abcdef","reclassify":"no","registration_id":3,"replaced":1,'
    '"run_time_ns":900,"runs_on":"kernel","runs_on_reason":"no instructions",'
    '"unrunnable":"pass","unrunnable_packets":4}\n'
)


def test_bpf_show_counters() -> None:
    assert parse_bpf_show(SHOW) == {
        "packets": 5,
        "drops": 1,
        "errors": 2,
        "unrunnable": 4,
        "run_time_ns": 900,
        "replaced": 1,
        "registration_id": 3,
    }


def _shown(**change: Any) -> str:
    shown: dict[str, Any] = json.loads(SHOW)
    for key, value in change.items():
        if value is None:
            del shown[key]
        else:
            shown[key] = value
    return json.dumps(shown)


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        ("mirror: reclassify=no path=/p prog_id=42\n  packets: 5\n", "Invalid JSON"),
        (LIST, "Input should be an object"),
        (_shown(unrunnable_packets=None), "unrunnable_packets: Field required"),
        (_shown(packets=-1), "packets: Input should be greater than or equal to 0"),
        (_shown(run_time_ns=900.5), "run_time_ns: Input should be a valid integer"),
        (_shown(drops="1"), "drops: Input should be a valid integer"),
        (_shown(prog_tag="not hex"), "prog_tag: String should match pattern"),
        (_shown(registration_id=0), "registration_id: Input should be greater than or equal"),
        (_shown(average_ns=180), "average_ns: Extra inputs are not permitted"),
        (_shown(path="/a\nb"), "path: Value error, the path holds a control character"),
    ],
)
def test_bpf_show_refuses_a_reply_it_cannot_read(reply: str, words: str) -> None:
    assert words in _refused(parse_bpf_show, reply)


class _OlderSwitch(Switch):
    """A switch whose registry predates --json: ovs-appctl fails as unixctl.c words it."""

    def appctl(self, *args: str, target: str = "ovs-vswitchd") -> str:
        raise OvsError(f'"{args[0]}" command takes at most {len(args) - 2} arguments')


@pytest.mark.parametrize("ask", [lambda sw: sw.registered(), lambda sw: sw.counters("count")])
def test_a_switch_without_json_replies_says_its_series_is_out_of_date(ask: Any) -> None:
    with pytest.raises(OvsError, match=r"has no bpf/(list|show) --json .*out of date"):
        ask(_OlderSwitch(Path("/nonexistent")))


def test_map_dump_reads_per_cpu_values_and_ring_buffers() -> None:
    reply = json.dumps(
        {
            "by_len": {
                "type": 6,
                "key_size": 4,
                "value_size": 4,
                "max_entries": 8,
                "cpus": 2,
                "entries": {"01000000": "0700000000000000" + "0900000000000000"},
            },
            "events": {
                "type": 27,
                "key_size": 0,
                "value_size": 0,
                "max_entries": 4096,
                "pending_bytes": 48,
                "entries": {},
            },
        }
    )
    maps = parse_map_dump(reply)
    assert maps["by_len"].cpus == 2 and maps["by_len"].value_bytes == 16
    assert maps["by_len"].entries == {b"\1\0\0\0": bytes.fromhex("07" + "00" * 7 + "09" + "00" * 7)}
    assert maps["events"].entries == {} and maps["events"].value_bytes == 0
    # A per-CPU value of one CPU's size is not what the switch says it holds.
    short = json.loads(reply)
    short["by_len"]["entries"] = {"01000000": "07000000"}
    assert "an entry is not of the map's sizes" in _refused(parse_map_dump, json.dumps(short))


def test_ringbuf_read_keeps_the_records_order() -> None:
    assert parse_ringbuf_read('{"records": ["0102", "", "ff"], "more": true}') == (
        [b"\1\2", b"", b"\xff"],
        True,
    )
    assert "more: Field required" in _refused(parse_ringbuf_read, '{"records": []}')
    assert "String should match pattern" in _refused(
        parse_ringbuf_read, '{"records": ["xyz"], "more": false}'
    )


class _RingSwitch(Switch):
    """A switch whose ring buffer hands out the given batches, one a call."""

    def __init__(self, batches: list[tuple[list[bytes], bool]]) -> None:
        super().__init__(Path("/nonexistent"))
        self.batches = batches
        self.calls = 0

    def ringbuf_read(
        self, name: str, map_name: str, max_bytes: int = 1 << 20
    ) -> tuple[list[bytes], bool]:
        self.calls += 1
        return self.batches.pop(0) if self.batches else ([], False)


def test_the_switch_ring_reader_keeps_what_the_callback_did_not_take() -> None:
    sw = _RingSwitch([([b"a", b"b", b"c"], True), ([b"d"], False)])
    got: list[bytes] = []
    reader = SwitchRingReader(sw, "m", "ring", lambda r: got.append(r) or len(got) == 2)
    assert reader.consume() == 2 and got == [b"a", b"b"]  # stopped after the second
    assert reader.poll(0) == 2 and got == [b"a", b"b", b"c", b"d"]  # the rest, then more
    assert reader.consume() == 0 and sw.calls == 4  # each read to empty ends on an empty one


def test_the_switch_ring_reader_says_what_failed() -> None:
    class Gone(Switch):
        def ringbuf_read(self, *args: object, **kwargs: object) -> tuple[list[bytes], bool]:
            raise OvsError("cannot connect to ovs-vswitchd")

    reader = SwitchRingReader(Gone(Path("/nonexistent")), "m", "ring", lambda r: None)
    with pytest.raises(MirrorError, match="cannot read ring buffer 'ring': cannot connect"):
        reader.poll(0)
