"""The command line end to end on the real kernel, including every refusal.

Each bad input must give one error line that says what to do, a non-zero
exit, and leave nothing pinned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ACTIONS, ROOT, cli

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"
UDP = (
    "Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')"
    "/IP(src='10.0.0.1', dst='10.0.0.2', ttl={})/UDP(sport=1000, dport=2000)"
)


def _error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("extframe: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_run_shows_field_diff_of_ttl_decrement() -> None:
    r = cli("run", "actions/dec_ttl.c", "--packet", UDP.format(5))
    assert r.returncode == 0, r.stderr
    assert "verdict   continue" in r.stdout
    assert "ip.ttl   5 → 4" in r.stdout
    assert "ip.csum" in r.stdout


def test_run_json_and_metadata() -> None:
    r = cli(
        "run",
        "actions/dec_ttl.c",
        "--packet",
        UDP.format(1),
        "--in-port",
        "3",
        "--mark",
        "9",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    run = out["runs"][0]
    assert run["verdict"] == "drop"
    assert run["mark_in"] == run["mark_out"] == 9
    assert out["type"] == "tc" and out["verifier_processed_insns"] > 0


def test_run_on_pcap(tmp_path: Path) -> None:
    from scapy.utils import wrpcap

    from extframe.packet import from_expression

    pcap = tmp_path / "two.pcap"
    wrpcap(str(pcap), [from_expression(UDP.format(t)) for t in (64, 1)])
    r = cli("run", "actions/dec_ttl.c", "--pcap", str(pcap), "--json")
    assert r.returncode == 0, r.stderr
    assert [x["verdict"] for x in json.loads(r.stdout)["runs"]] == ["continue", "drop"]


def test_build_writes_object(tmp_path: Path) -> None:
    out = tmp_path / "f.o"
    r = cli("build", "actions/port_filter.c", "-o", str(out), "--werror")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x7fELF"


def test_load_and_unload(bpffs_root: Path) -> None:
    r = cli("load", "actions/port_counter.c", "--name", "pc", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert Path(info["pinned_maps"]["port_stats"]).exists()
    assert (bpffs_root / "pc" / "prog").is_dir()
    again = cli("load", "actions/port_counter.c", "--name", "pc")
    assert again.returncode == 2 and "already pinned" in _error_line(again.stderr)
    r = cli("unload", "pc")
    assert r.returncode == 0 and not (bpffs_root / "pc").exists()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["run", "actions/nope.c", "--packet", "Ether()"], 2, "no such file"),
        (["run", "actions/nope.o", "--packet", "Ether()"], 2, "no such file"),
        (["run", str(PROGS / "syntax_error.c"), "--packet", "Ether()"], 2, "expected ';'"),
        (["load", str(PROGS / "reject_pkt.c")], 3, "reject_pkt.c:10: invalid access to packet"),
        (["run", "/bin/true", "--packet", "Ether()"], 2, "not BPF"),
        (["run", "README.md", "--packet", "Ether()"], 2, "not an ELF object"),
        (["run", "actions/dec_ttl.c", "--hex", "0000"], 2, "at least 14"),
        (["run", "actions/dec_ttl.c", "--packet", "Ether("], 2, "never closed"),
        (["run", "actions/dec_ttl.c", "--packet", "open('x')"], 2, "unknown layer"),
        (["run", str(PROGS / "odd_section.c"), "--packet", "Ether()"], 2, "--type tc"),
        (["load", "actions/dec_ttl.c", "--name", "bad.name"], 2, "invalid name"),
        (["unload", "never_loaded"], 2, "not loaded"),
    ],
)
def test_bad_input_is_one_clear_line(
    args: list[str], code: int, says: str, bpffs_root: Path
) -> None:
    r = cli(*args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert says in _error_line(r.stderr)
    assert not bpffs_root.exists() or not any(bpffs_root.iterdir())


def test_garbage_object(tmp_path: Path, bpffs_root: Path) -> None:
    f = tmp_path / "garbage.o"
    f.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    r = cli("load", str(f))
    assert r.returncode == 2
    _error_line(r.stderr)
    assert not bpffs_root.exists() or not any(bpffs_root.iterdir())


def test_verifier_rejection_verbose_and_json() -> None:
    r = cli("run", str(PROGS / "reject_pkt.c"), "--packet", "Ether()", "--verbose")
    assert r.returncode == 3
    assert "processed 2 insns" in r.stderr  # the whole log
    r = cli("run", str(PROGS / "reject_pkt.c"), "--packet", "Ether()", "--json")
    assert r.returncode == 3
    out = json.loads(r.stdout)
    assert out["verifier"]["source_line"] == 10
    assert out["verifier"]["source_file"] == "reject_pkt.c"
    assert "invalid access to packet" in out["verifier"]["log"]


def test_bpffs_not_mounted(tmp_path: Path) -> None:
    r = cli("load", "actions/port_counter.c", env={"EXTFRAME_BPFFS": str(tmp_path / "nobpf")})
    assert r.returncode == 2
    assert "bpffs is not mounted" in _error_line(r.stderr)
    assert "mount -t bpf" in r.stderr
    assert not (tmp_path / "nobpf").exists()


def test_library_runs_every_action(bpffs_root: Path) -> None:
    r = cli("library")
    assert r.returncode == 0, r.stdout + r.stderr
    for src in ACTIONS.glob("*.c"):
        assert src.stem in r.stdout
    assert "all vectors pass; nothing is left pinned" in r.stdout
    assert "ip.ttl" in r.stdout  # the worked example
    assert not bpffs_root.exists() or not any(bpffs_root.iterdir())


def test_help_teaches() -> None:
    for cmd in ("build", "load", "unload", "run", "vectors", "library", "demo"):
        r = cli(cmd, "--help")
        assert r.returncode == 0
        assert "example" in r.stdout
    assert "exit status" in cli("--help").stdout
    assert (ROOT / "README.md").read_text().count("make test") >= 1


def test_run_passes_every_metadata_option() -> None:
    r = cli(
        "run",
        str(PROGS / "meta_echo.c"),
        "--hex",
        "00" * 60,
        "--in-port",
        "5",
        "--arg",
        "2",
        "--priority",
        "7",
        "--mark",
        "1",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["runs"][0]
    assert run["mark_out"] == 5 | 2 << 16
    assert (run["priority_in"], run["priority_out"]) == (7, 8)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "actions/dec_ttl.c", "--hex", "00" * 60, "--repeat", "0"], "repeat 0"),
        (["run", "actions/dec_ttl.c", "--hex", "00" * 60, "--repeat", "4294967297"], "repeat"),
        (["run", "actions/dec_ttl.c", "--packet", "IP(**{'ttl': 3})"], "**keywords"),
        (["unload", "a", "--all"], "not both"),
    ],
)
def test_more_refusals(args: list[str], says: str) -> None:
    r = cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert says in _error_line(r.stderr)


def test_build_into_a_folder_and_unreadable_vectors(tmp_path: Path) -> None:
    r = cli("build", "actions/dec_ttl.c", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dec_ttl.o").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "dec_ttl.o"]
    src = tmp_path / "x.c"
    src.write_text((ACTIONS / "dec_ttl.c").read_text().replace('"extframe.h"', "<extframe.h>"))
    (tmp_path / "x.vectors.toml").mkdir()
    r = cli("vectors", str(src))
    assert r.returncode == 2 and "cannot read" in _error_line(r.stderr)


def test_raw_ip_pcap_is_refused(tmp_path: Path) -> None:
    from scapy.layers.inet import IP
    from scapy.utils import wrpcap

    pcap = tmp_path / "rawip.pcap"
    wrpcap(str(pcap), [IP(ttl=5)], linktype=228)
    r = cli("run", "actions/dec_ttl.c", "--pcap", str(pcap))
    assert r.returncode == 2 and "link type 228" in _error_line(r.stderr)


def test_library_leaves_the_users_pins_alone(bpffs_root: Path) -> None:
    assert cli("load", "actions/dec_ttl.c").returncode == 0
    r = cli("library")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (bpffs_root / "dec_ttl" / "prog").is_dir()
    assert cli("unload", "dec_ttl").returncode == 0
    leftovers = [p for p in bpffs_root.parent.iterdir() if p.name.startswith("extframe_demo_")]
    assert leftovers == []
