"""Map keys and values through the kernel's BTF: vectors notation, ``maps`` and ``run --maps``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extframe.build import build
from extframe.errors import MapError
from extframe.kernel import libbpf
from extframe.kernel.loader import LoadedObject, load_object
from extframe.kernel.mapview import dump, map_types
from extframe.kernel.testrun import RunInput, run
from tests.conftest import ROOT, cli

pytestmark = pytest.mark.kernel
PROG = ROOT / "tests" / "kernel" / "progs" / "map_types.c"

FULL = {
    "v4": "10.1.2.3",
    "mac": "02:00:00:00:00:0a",
    "port": 443,
    "v6": "fd00::7",
    "low": 9,
    "high": 123456,
    "color": "GREEN",
    "counts": [1, 2, 3],
}


@pytest.fixture
def obj(build_dir: Path) -> LoadedObject:
    o = load_object(build(PROG, build_dir / "map_types.o"))
    yield o
    o.close()


def test_struct_values_round_trip_in_network_order_where_btf_says_so(obj: LoadedObject) -> None:
    t = map_types(obj.map("shapes").fd)
    raw = t.value.encode(FULL, "value")
    assert raw[0:4] == bytes([10, 1, 2, 3])  # __be32: network order
    assert raw[4:10] == bytes.fromhex("02000000000a")
    assert raw[10:12] == (443).to_bytes(2, "big")  # __be16
    assert raw[12:28] == bytes.fromhex("fd000000000000000000000000000007")
    assert int.from_bytes(raw[28:32], "little") == 9 | (123456 << 4)  # bitfields
    assert int.from_bytes(raw[32:36], "little") == 2  # enum by name
    assert t.value.decode(raw) == FULL
    obj.map("shapes").update(t.key.encode(1, "key"), raw)
    assert dump(obj.map("shapes").fd)["entries"] == [{"key": 1, "value": FULL}]


def test_left_out_members_are_zero_and_not_compared(obj: LoadedObject) -> None:
    v = map_types(obj.map("shapes").fd).value
    raw = v.encode({"port": 80}, "value")
    assert raw.count(0) == len(raw) - 1
    assert v.compare(v.encode(FULL, "value"), {"port": 443, "counts": [1, 2]}, "x") == []
    problems = v.compare(v.encode(FULL, "value"), {"v4": "10.1.2.4"}, "x")
    assert problems == ["x.v4: 10.1.2.3, want 10.1.2.4"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"nope": 1}, "has no member 'nope'"),
        ({"v4": "10.1.2"}, "is not an IPv4 address"),
        ({"mac": "02:00"}, "is not a MAC address"),
        ({"port": 70000}, "does not fit in 2 bytes"),
        ({"color": "BLUE"}, "is not one of RED, GREEN"),
        ({"counts": [1, 2, 3, 4]}, "the array holds 3"),
        ({"low": 16}, "does not fit 4 bits"),
        ("0x00", "is 1 bytes; it needs"),
        (5, "give a table of members"),
    ],
)
def test_bad_values_say_what_is_wrong(obj: LoadedObject, value: object, message: str) -> None:
    v = map_types(obj.map("shapes").fd).value
    with pytest.raises(MapError, match=message):
        v.encode(value, "value")  # type: ignore[arg-type]


def test_arrays_hide_zero_entries(obj: LoadedObject) -> None:
    m = obj.map("sparse")
    m.update((5).to_bytes(4, "little"), (77).to_bytes(8, "little"))
    d = dump(m.fd)
    assert d["entries"] == [{"key": 5, "value": 77}]
    assert d["zero_entries_hidden"] == 63


def test_maps_command_reads_the_pins_of_a_loaded_action(bpffs_root: Path) -> None:
    assert cli("load", "actions/port_counter.c", "--name", "pc").returncode == 0
    run = cli("maps", "pc", "--json")
    assert run.returncode == 0, run.stderr
    (only,) = json.loads(run.stdout)
    assert only["name"] == "port_stats" and only["entries"] == []
    assert only["pinned_at"] == str(bpffs_root / "pc" / "map" / "port_stats")
    missing = cli("maps", "pc", "--map", "nope")
    assert missing.returncode == 2 and "no map 'nope' (maps: port_stats" in missing.stderr

    # --set and --delete write the pinned map, in the vectors files' notation.
    put = ["--map", "port_stats", "--set", "1={packets = 7, bytes = 640}", "--set", "2={}"]
    run = cli("maps", "pc", *put, "--json")
    assert run.returncode == 0, run.stderr
    (only,) = json.loads(run.stdout)
    assert only["entries"] == [
        {"key": 1, "value": {"packets": 7, "bytes": 640}},
        {"key": 2, "value": {"packets": 0, "bytes": 0}},
    ]
    run = cli("maps", "pc", "--map", "port_stats", "--delete", "2")
    assert run.returncode == 0, run.stderr
    assert "1: {packets = 7, bytes = 640}" in run.stdout and "2: " not in run.stdout
    for bad, words in (
        (["--set", "1={packets = 7}"], "--set and --delete change one map: name it with --map"),
        (["--map", "port_stats", "--set", "1"], "expected KEY=VALUE"),
        (["--map", "port_stats", "--set", "1={packets = }"], "is not a value"),
        (["--map", "port_stats", "--set", "1={colour = 3}"], "colour"),
        (["--map", "port_stats", "--delete", "9"], "No such file or directory"),
    ):
        run = cli("maps", "pc", *bad)
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("extframe: error:")]
        assert run.returncode == 2 and len(errors) == 1 and words in errors[0], (bad, run.stderr)
    assert cli("unload", "pc").returncode == 0
    gone = cli("maps", "pc")
    assert gone.returncode == 2 and "'pc' is not loaded" in gone.stderr


def test_run_shows_the_maps_after_the_packets() -> None:
    run = cli(
        "run",
        "actions/port_counter.c",
        "--packet",
        "Ether()/IP()/UDP()",
        "--in-port",
        "3",
        "--maps",
    )
    assert run.returncode == 0, run.stderr
    assert "map port_stats (hash, 1 shown of max 1024)" in run.stdout
    assert "3: {packets = 1, bytes = 42}" in run.stdout


def test_per_cpu_maps_show_a_value_for_each_possible_cpu(build_dir: Path) -> None:
    """A kernel's per-CPU map, read with a buffer of the kernel's size, one value a CPU."""
    prog = ROOT / "tests" / "ovs" / "progs" / "percpu_maps.c"
    with load_object(build(prog, build_dir / "percpu_maps.o")) as o:
        frame = bytes(12) + b"\x08\x00" + bytes(50)
        for _ in range(3):
            run(o.program("percpu_maps"), RunInput(packet=frame))
        m = o.map("by_len")
        with pytest.raises(MapError, match="per-CPU maps is not supported"):
            m.lookup(bytes(4))  # a value-sized buffer would overflow
        values = m.lookup_per_cpu((len(frame) % 8).to_bytes(4, "little"))
        assert values is not None and len(values) == libbpf.lib().libbpf_num_possible_cpus()
        assert sorted(int.from_bytes(v, "little") for v in values)[-1] == 3 * len(frame)
        d = dump(m.fd)
        (entry,) = d["entries"]
        assert entry["key"] == len(frame) % 8 and sum(entry["value"]) == 3 * len(frame)
        assert "a value for each CPU" in d["note"]
        assert d["zero_entries_hidden"] == 7
