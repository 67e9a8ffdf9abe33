"""The loader against the real kernel: logs, types, maps, rejections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.verifier_log import is_complete
from extframe.build import BuildOptions, build
from extframe.errors import ObjectError, VerifierError
from extframe.kernel.loader import LoadOptions, load_object
from extframe.kernel.testrun import RunInput, run

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("progs")
    return {
        src.stem: build(src, out / f"{src.stem}.o", BuildOptions(werror=True))
        for src in PROGS.glob("*.c")
        if src.stem != "syntax_error"
    }


def test_log_is_level_two_and_complete(objs: dict[str, Path]) -> None:
    with load_object(objs["two_progs"]) as obj:
        assert [p.name for p in obj.programs] == ["count_first", "mark_second"]
        for p in obj.programs:
            assert p.log_complete
            assert is_complete(p.log)
            # level 2 shows the register state after instructions
            assert "R1=ctx()" in p.log
            assert "@ two_progs.c:" in p.log  # BTF line info reached the kernel
            assert p.processed_insns and p.processed_insns > 0


def test_log_buffer_grows_until_the_log_is_whole(objs: dict[str, Path]) -> None:
    with load_object(objs["two_progs"]) as big:
        whole = big.program("mark_second").log
    with load_object(objs["two_progs"], LoadOptions(log_size=32)) as small:
        grown = small.program("mark_second").log
    assert small.program("mark_second").log_complete
    assert _stable(grown) == _stable(whole)


def _stable(log: str) -> list[str]:
    """A log without what differs between two loads: timing and kernel addresses."""
    return [
        re.sub(r"0x[0-9a-f]{12,}", "ADDR", ln)
        for ln in log.splitlines()
        if not ln.startswith("verification time")
    ]


def test_a_log_that_cannot_be_had_whole_is_marked_incomplete(objs: dict[str, Path]) -> None:
    with load_object(objs["two_progs"], LoadOptions(log_size=32, max_log_size=128)) as obj:
        for p in obj.programs:
            assert not p.log_complete
            assert not is_complete(p.log)
        # ... but the programs are loaded and run.
        assert run(obj.programs[0], RunInput(packet=bytes(60))).verdict == "continue"


def test_maps_are_created_and_shared_between_programs(objs: dict[str, Path]) -> None:
    with load_object(objs["two_progs"]) as obj:
        cfg = obj.map("shared_cfg")
        assert (cfg.map_type, cfg.key_size, cfg.value_size, cfg.max_entries) == ("array", 4, 4, 1)
        for _ in range(3):
            run(obj.program("count_first"), RunInput(packet=bytes(60)))
        assert cfg.lookup(bytes(4)) == (3).to_bytes(4, "little")
        res = run(obj.program("mark_second"), RunInput(packet=bytes(60)))
        assert res.mark == 3


def test_verifier_rejection_names_reason_and_line(objs: dict[str, Path]) -> None:
    with pytest.raises(VerifierError) as exc:
        load_object(objs["reject_pkt"])
    e = exc.value
    assert e.exit_code == 3
    assert e.program == "reject_pkt"
    assert "invalid access to packet" in e.summary.reason
    assert (e.summary.source_file, e.summary.source_line) == ("reject_pkt.c", 10)
    assert "data[12]" in (e.summary.source_text or "")
    assert "reject_pkt.c:10" in e.message and "data_end" in e.message
    assert e.summary.complete and "processed" in e.log


def test_section_name_unknown_to_libbpf_needs_type(objs: dict[str, Path]) -> None:
    with pytest.raises(ObjectError, match="--type tc"):
        load_object(objs["odd_section"])
    with load_object(objs["odd_section"], LoadOptions(prog_type="tc")) as obj:
        p = obj.program()
        assert (p.type_name, p.section) == ("tc", "ovs_action/odd")
        assert run(p, RunInput(packet=bytes(101))).verdict == "drop"
        assert run(p, RunInput(packet=bytes(100))).verdict == "continue"


def test_xdp_programs_load_and_run(objs: dict[str, Path]) -> None:
    with load_object(objs["xdp_drop_short"]) as obj:
        p = obj.program()
        assert p.type_name == "xdp"
        assert run(p, RunInput(packet=bytes(63))).verdict == "drop"
        assert run(p, RunInput(packet=bytes(64))).verdict == "continue"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, world\n" * 10, "not an ELF object"),
        (b"\x7fELF\x02\x01", "truncated ELF header"),
    ],
)
def test_bad_objects_are_refused_cleanly(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "bad.o"
    f.write_bytes(content)
    with pytest.raises(ObjectError, match=message):
        load_object(f)


def test_native_elf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ObjectError, match="not BPF"):
        load_object(Path("/bin/true"))


def test_truncated_bpf_object_is_refused(objs: dict[str, Path], tmp_path: Path) -> None:
    data = objs["two_progs"].read_bytes()
    f = tmp_path / "cut.o"
    f.write_bytes(data[: len(data) // 3])
    with pytest.raises(ObjectError, match="libbpf cannot open"):
        load_object(f)


@pytest.mark.parametrize(("in_port", "arg", "priority"), [(0, 0, 0), (7, 3, 41), (65535, 2, 9)])
def test_metadata_reaches_the_program_and_comes_back(
    objs: dict[str, Path], in_port: int, arg: int, priority: int
) -> None:
    with load_object(objs["meta_echo"]) as obj:
        res = run(
            obj.program(),
            RunInput(packet=bytes(60), in_port=in_port, arg=arg, priority=priority, mark=12345),
        )
    assert res.mark == in_port | arg << 16
    assert res.priority == priority + 1


@pytest.mark.parametrize("max_log_size", [512, 128])
def test_a_rejection_whose_log_does_not_fit_still_names_the_verifiers_reason(
    objs: dict[str, Path], max_log_size: int
) -> None:
    """The 1,000,000-instruction case in small: the level-2 log (741 bytes) overflows.

    At 512 bytes the level-1 path to the error fits; at 128 it overflows too,
    and libbpf's level-1 retry of a level-0 load fills a buffer of its own.
    """
    with pytest.raises(VerifierError) as whole:
        load_object(objs["reject_pkt"])
    with pytest.raises(VerifierError) as small:
        load_object(objs["reject_pkt"], LoadOptions(log_size=32, max_log_size=max_log_size))
    got, want = small.value.summary, whole.value.summary
    assert (got.reason, got.source_file, got.source_line) == (
        want.reason,
        "reject_pkt.c",
        10,
    )
    assert whole.value.log_complete and not small.value.log_complete
