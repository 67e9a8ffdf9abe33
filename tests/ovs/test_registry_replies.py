"""The registry's replies on a real patched switch (issue 21, point 6).

extframe reads ``bpf/list --json`` and ``bpf/show --json``; paths come back
exactly, whatever they hold, and a path that could forge a line is refused
by the switch itself.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from extframe.errors import OvsError
from tests.conftest import ACTIONS, cli
from tests.ovs.conftest import Switch

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]


def _program(bpffs_root: Path) -> Path:
    """port_counter, loaded, verified and pinned by extframe as "pc"."""
    r = cli("load", str(ACTIONS / "port_counter.c"), "--name", "pc")
    assert r.returncode == 0, r.stderr
    return bpffs_root / "pc" / "prog" / "port_counter"


def _pin_again(prog: Path, path: Path) -> None:
    """Pin the program at ``prog`` a second time, at ``path`` (bpftool, as an operator would)."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["bpftool", "prog", "pin", "pinned", str(prog), str(path)], check=True)


def _prog_id(path: Path) -> int:
    out = subprocess.run(
        ["bpftool", "--json", "prog", "show", "pinned", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(json.loads(out)["id"])


def _listed(switch: Switch) -> list[dict[str, object]]:
    r = cli("list", "--json", "--switch", str(switch.run_dir))
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def test_a_pin_path_with_spaces_and_quotes_is_listed_exactly(
    switch: Switch, bpffs_root: Path
) -> None:
    """Registered with raw ovs-appctl: the text form once broke every extframe command."""
    spaced = bpffs_root.parent / "pins with spaces" / 'a "quoted" \\ name'
    _pin_again(_program(bpffs_root), spaced)
    switch.appctl("bpf/add", "spaced", str(spaced), "reclassify=no", "fields=ip.ttl,ip.csum")

    rows = _listed(switch)
    assert [(r["name"], r["program_pin"], r["fields"], r["prog_id"]) for r in rows] == [
        ("spaced", str(spaced), ["ip.ttl", "ip.csum"], _prog_id(spaced))
    ]
    assert rows[0]["registered_by_extframe"] is False and rows[0]["packets"] == 0
    r = cli("list", "--switch", str(switch.run_dir))
    assert r.returncode == 0 and re.search(r"^spaced\s", r.stdout, re.M), r.stderr
    # The switch's own text form quotes the path, so it reads as one word.
    assert switch.appctl("bpf/list").endswith(
        f"path={json.dumps(str(spaced))} prog_id={_prog_id(spaced)}\n"
    )


def test_a_path_with_a_newline_is_refused_and_forges_no_row(
    switch: Switch, bpffs_root: Path
) -> None:
    prog = _program(bpffs_root)
    switch.appctl("bpf/add", "real", str(prog), "reclassify=no")
    forged = bpffs_root.parent / "pins" / "x\nforged: reclassify=no path=y prog_id=1"
    _pin_again(prog, forged)

    with pytest.raises(OvsError) as e:
        switch.appctl("bpf/add", "evil", str(forged), "reclassify=no")
    message = e.value.message
    assert "\n" not in message, message
    assert message.startswith(f'"{bpffs_root.parent}/pins/x\\012forged: reclassify=no')
    assert "must not hold control characters (byte 0x0a at offset" in message
    with pytest.raises(OvsError, match="must not hold control characters"):
        switch.appctl("bpf/replace", "real", str(forged), "reclassify=no")

    assert [(r["name"], r["program_pin"]) for r in _listed(switch)] == [("real", str(prog))]
    assert switch.appctl("bpf/list").count("\n") == 1
