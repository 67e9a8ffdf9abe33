"""The registry's replies and limits on a real patched switch (issue 21, points 6 and 8a).

extframe reads ``bpf/list --json`` and ``bpf/show --json``; paths come back
exactly, whatever they hold, and a path that could forge a line is refused
by the switch itself. The switch names its real limits: the number of
actions, and the file descriptors that each of them holds open.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
from pathlib import Path

import pytest

from extframe.errors import OvsError
from tests.conftest import ACTIONS, cli
from tests.ovs.conftest import Switch, pins

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]

#: lib/bpf-action.c: BPF_ACTION_MAX.
REGISTRY_MAX = 4096


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
    switch.appctl("bpf/add", "spaced", str(spaced), "reclassify=lazy", "fields=nw_ttl,dl_dst")

    rows = _listed(switch)
    assert [(r["name"], r["program_pin"], r["fields"], r["prog_id"]) for r in rows] == [
        ("spaced", str(spaced), ["nw_ttl", "dl_dst"], _prog_id(spaced))
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


def _leave_free(pid: int, n: int) -> int:
    """Lower ``pid``'s soft fd limit so that ``n`` descriptors stay free below it."""
    limit = free = 0
    while free < n:
        if not os.path.exists(f"/proc/{pid}/fd/{limit}"):
            free += 1
        limit += 1
    _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))
    return limit


def test_running_out_of_file_descriptors_is_named(switch: Switch, bpffs_root: Path) -> None:
    """It once read "not a BPF program (a map?)"; now it says what to do."""
    prog = _program(bpffs_root)
    pid = switch.pid("ovs-vswitchd")
    assert pid is not None
    before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    _leave_free(pid, 8)
    try:
        refused = None
        for i in range(8):
            try:
                switch.appctl("bpf/add", f"a{i}", str(prog), "reclassify=no")
            except OvsError as e:
                refused = e.message
                break
        assert refused == (
            f"{prog}: ovs-vswitchd is out of file descriptors (Too many open files): "
            "raise its limit (ulimit -n) or remove registrations"
        )
        assert len(switch.registered()) == i
        # Through extframe: one line that names the cause, and nothing left behind.
        r = cli(
            "register", "late", str(ACTIONS / "port_counter.c"), "--switch", str(switch.run_dir)
        )
        assert r.returncode == 2
        assert "ovs-vswitchd is out of file descriptors (Too many open files)" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and not (switch.pin_root / "late").exists()
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
    switch.appctl("bpf/add", f"a{i}", str(prog), "reclassify=no")


def test_a_full_registry_refuses_one_more(switch: Switch, bpffs_root: Path) -> None:
    prog = _program(bpffs_root)
    # One ovs-appctl each, from a shell loop: a few milliseconds a call.
    subprocess.run(
        [
            "sh",
            "-c",
            'for i in $(seq 1 "$2"); do "$0" bpf/add "a$i" "$1" reclassify=no || exit 1; done',
            str(switch.program("ovs-appctl")),
            str(prog),
            str(REGISTRY_MAX),
        ],
        env=switch.env,
        check=True,
        timeout=300,
    )
    assert len(switch.registered()) == REGISTRY_MAX

    message = f"bpf action registry is full ({REGISTRY_MAX} actions): delete one with bpf/del "
    with pytest.raises(OvsError) as e:
        switch.appctl("bpf/add", "one_more", str(prog), "reclassify=no")
    assert e.value.message == message + "before adding one_more"
    pinned = pins(switch.pin_root)
    r = cli("register", "late", str(ACTIONS / "port_counter.c"), "--switch", str(switch.run_dir))
    assert r.returncode == 2 and r.stderr == f"extframe: error: {message}before adding late\n"
    assert pins(switch.pin_root) == pinned

    # A replacement takes no new place; a deletion frees one.
    switch.appctl("bpf/replace", "a1", str(prog), "reclassify=yes")
    switch.appctl("bpf/del", "a2")
    switch.appctl("bpf/add", "one_more", str(prog), "reclassify=no")
    assert len(switch.registered()) == REGISTRY_MAX
