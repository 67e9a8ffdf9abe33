"""extframe's reading of the patched ovs-vswitchd's bpf/list and bpf/show replies."""

from __future__ import annotations

import pytest

from extframe.errors import OvsError
from extframe.ovs.switch import Registered, parse_bpf_list, parse_bpf_show

# Lines as lib/bpf-action.c's format_action() writes them.
LIST = (
    "count: reclassify=no path=/sys/fs/bpf/x/count/prog/port_counter prog_id=41\n"
    "mirror: reclassify=no unrunnable=pass path=/sys/fs/bpf/x/mirror/prog/m prog_id=42\n"
    "ttl: reclassify=yes fields=ip.csum,ip.ttl unrunnable=pass path=/sys/fs/bpf/t prog_id=7\n"
)


def _reg(
    name: str, rc: bool, fields: list[str], unrunnable: str, path: str, id_: int
) -> Registered:
    return Registered(
        name=name, reclassify=rc, fields=fields, unrunnable=unrunnable, path=path, prog_id=id_
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("count", _reg("count", False, [], "drop", "/sys/fs/bpf/x/count/prog/port_counter", 41)),
        ("mirror", _reg("mirror", False, [], "pass", "/sys/fs/bpf/x/mirror/prog/m", 42)),
        ("ttl", _reg("ttl", True, ["ip.csum", "ip.ttl"], "pass", "/sys/fs/bpf/t", 7)),
    ],
)
def test_bpf_list_lines(name: str, expected: Registered) -> None:
    assert parse_bpf_list(LIST)[name] == expected


def test_bpf_list_refuses_a_line_it_cannot_read() -> None:
    with pytest.raises(OvsError, match="is the series up to date"):
        parse_bpf_list("x: reclassify=no unrunnable=maybe path=/p prog_id=1\n")


SHOW = """\
mirror: reclassify=no unrunnable=pass path=/sys/fs/bpf/x/mirror/prog/m prog_id=42
  program: id 42, name "m", tag 0123456789abcdef
  registration id: 3, replaced 1 times
  packets: 5
  drops: 1
  errors: 2
  unrunnable: 4
  run time: 900 ns total, 180 ns average
"""


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


def test_bpf_show_of_a_switch_without_the_counter() -> None:
    older = "\n".join(ln for ln in SHOW.splitlines() if "unrunnable: " not in ln)
    assert "unrunnable" not in parse_bpf_show(older)
