"""Declared effects, vector files, the clang command line and ELF checks: no kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from extframe.build import ABI_INCLUDE, BuildOptions, clang_command
from extframe.errors import MapError, ObjectError, PinError, VectorError
from extframe.kernel.bpffs import check_name
from extframe.kernel.loader import check_elf
from extframe.kernel.mapview import Codec
from extframe.manifest import DeclaredEffects
from extframe.vectors import VectorFile


@pytest.mark.parametrize(
    ("text", "read_only", "writes"),
    [
        ("read_only", True, ()),
        ('writes("ip.ttl", "ip.csum")', False, ("ip.csum", "ip.ttl")),
        ("writes(ip.ttl,ip.csum)", False, ("ip.csum", "ip.ttl")),
        ('writes("meta.mark")', False, ("meta.mark",)),
        ('writes("length", "length")', False, ("length",)),
    ],
)
def test_declared_effects(text: str, read_only: bool, writes: tuple[str, ...]) -> None:
    d = DeclaredEffects.parse(text)
    assert (d.read_only, d.writes) == (read_only, writes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("readonly", "cannot read"),
        ('writes("ip.tll")', "unknown effect ip.tll"),
        ("writes()", "unknown effect"),
        ("", "cannot read"),
    ],
)
def test_bad_declarations(text: str, message: str) -> None:
    with pytest.raises(ObjectError, match=message):
        DeclaredEffects.parse(text)


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "a.vectors.toml"
    f.write_text(text)
    return f


def test_vector_file_valid(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        '[[setup]]\nmap = "m"\nkey = 1\nvalue = "0x0100"\n'
        '[[vector]]\nname = "a"\npacket = "Ether()"\nverdict = "drop"\n'
        '[[vector.expect_map]]\nmap = "m"\nkey = 1\nvalue = "absent"\n',
    )
    v = VectorFile.load(f)
    assert v.setup[0].value == "0x0100"
    assert v.vector[0].expect_map[0].value == "absent"
    assert v.vector[0].expected_bytes() == v.vector[0].input_bytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[vector]]\nname = "a"\npacket = "Ether()"\nverdict = "drop"\ncolour = 1\n', "colour"),
        ('[[vector]]\nname = "a"\nverdict = "drop"\n', "exactly one of packet"),
        (
            '[[vector]]\nname = "a"\npacket = "Ether()"\npacket_hex = "00"\nverdict = "drop"\n',
            "exactly one of packet",
        ),
        ('[[vector]]\nname = "a"\npacket = "Ether()"\nverdict = "maybe"\n', "verdict"),
        ("[[vector]\n", "not valid TOML"),
        ("", "vector"),
    ],
)
def test_vector_file_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VectorError, match=message):
        VectorFile.load(_write(tmp_path, text))


def test_vector_file_missing(tmp_path: Path) -> None:
    with pytest.raises(VectorError, match="no such file"):
        VectorFile.load(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("value", "size", "want"),
    [
        (1, 4, b"\x01\x00\x00\x00"),
        (23, 2, b"\x17\x00"),
        ("0x0102", 2, b"\x01\x02"),
        (-1, 2, b"\xff\xff"),
    ],
)
def test_encode_without_btf(value: int | str, size: int, want: bytes) -> None:
    assert Codec(None, 0, size).encode(value, "key") == want


@pytest.mark.parametrize(("value", "size"), [(70000, 2), ("0x010203", 2)])
def test_encode_errors_without_btf(value: int | str, size: int) -> None:
    with pytest.raises(MapError):
        Codec(None, 0, size).encode(value, "key")


def test_clang_command_has_btf_and_abi_header() -> None:
    cmd = clang_command(Path("a.c"), Path("a.o"), BuildOptions(werror=True, defines=("X=1",)))
    opts = BuildOptions()
    assert cmd[:6] == [opts.clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3"]
    assert f"-I{ABI_INCLUDE}" in cmd and "-Werror" in cmd and "-DX=1" in cmd
    assert cmd[-4:] == ["-c", "a.c", "-o", "a.o"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"MZ\x90\x00" * 8, "not an ELF object"),
        (b"\x7fELF\x02\x01\x01", "truncated ELF header"),
        (b"\x7fELF\x02\x01\x01" + bytes(11) + b"\x3e\x00" + bytes(40), "machine 62, not BPF"),
    ],
)
def test_check_elf(data: bytes, message: str) -> None:
    with pytest.raises(ObjectError, match=message):
        check_elf(data, Path("x.o"))


def test_check_elf_accepts_bpf_header() -> None:
    check_elf(b"\x7fELF\x02\x01\x01" + bytes(11) + b"\xf7\x00" + bytes(40), Path("x.o"))


@pytest.mark.parametrize("name", ["dec_ttl", "_x", "A1"])
def test_good_names(name: str) -> None:
    check_name(name)


def test_bad_name() -> None:
    with pytest.raises(PinError):
        check_name("a.b")
