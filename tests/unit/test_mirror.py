"""The mirror's pure parts: libpcap's errors, the translation's refusals, options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from extframe.errors import MirrorError
from extframe.mirror.codegen import RECORD_HEADER, decode_record, filter_c
from extframe.mirror.pcapfilter import CbpfInsn, compile_filter
from extframe.mirror.session import MirrorOptions


@pytest.mark.parametrize(
    "expression", ["tcp dst prt 443", "tcp[", "port 99999", "ether host 1:2", "vlan and and"]
)
def test_a_filter_that_does_not_compile_gets_libpcaps_message(
    expression: str, tmp_path: Path
) -> None:
    """The same words tcpdump prints for the same expression."""
    pcap = tmp_path / "empty.pcap"
    wrpcap(str(pcap), [Ether()])
    tcpdump = subprocess.run(
        ["tcpdump", "-r", str(pcap), expression], capture_output=True, text=True, check=False
    )
    assert tcpdump.returncode != 0
    said = tcpdump.stderr.strip().splitlines()[-1].removeprefix("tcpdump: ")
    with pytest.raises(MirrorError) as e:
        compile_filter(expression)
    assert e.value.message == f"filter {expression!r} does not compile: {said}"


def test_the_empty_filter_accepts_every_packet_at_the_snap_length() -> None:
    assert compile_filter("", 96) == [CbpfInsn(0x06, 0, 0, 96)]


@pytest.mark.parametrize(
    ("insns", "said"),
    [
        ([CbpfInsn(0x20, 0, 0, 0xFFFFF000), CbpfInsn(0x16, 0, 0, 0)], "ancillary load"),
        ([CbpfInsn(0x15, 5, 0, 1), CbpfInsn(0x06, 0, 0, 1)], "jumps past the end"),
        ([CbpfInsn(0x34, 0, 0, 0), CbpfInsn(0x16, 0, 0, 0)], "divides by zero"),
        ([CbpfInsn(0x31, 0, 0, 14), CbpfInsn(0x16, 0, 0, 0)], "is not supported"),
        ([CbpfInsn(0x02, 0, 0, 16), CbpfInsn(0x16, 0, 0, 0)], "scratch word 16"),
        ([CbpfInsn(0x28, 0, 0, 12)], "does not end in a return"),
        ([], "empty"),
    ],
)
def test_classic_programs_the_translation_refuses(insns: list[CbpfInsn], said: str) -> None:
    with pytest.raises(MirrorError, match=said):
        filter_c(insns, "crafted")


def test_records_decode_and_refuse_short_ones() -> None:
    raw = RECORD_HEADER.pack(5, 100, 3, 2, 0) + b"abc"
    rec = decode_record(raw)
    assert (rec.ts_ns, rec.wire_len, rec.in_port, rec.data) == (5, 100, 2, b"abc")
    with pytest.raises(MirrorError, match="holds 2"):
        decode_record(raw[:-1])
    with pytest.raises(MirrorError, match="shorter than its header"):
        decode_record(raw[:10])


@pytest.mark.parametrize(
    ("options", "point"),
    [
        (MirrorOptions(), (0, "")),
        (MirrorOptions(in_port="2"), (0, "in_port=2")),
        (MirrorOptions(flow="table=1,ip,nw_dst=10.0.0.2"), (1, "ip,nw_dst=10.0.0.2")),
        (MirrorOptions(flow="udp, tp_dst=53"), (0, "udp,tp_dst=53")),
    ],
)
def test_the_point_of_the_pipeline(options: MirrorOptions, point: tuple[int, str]) -> None:
    assert options.point() == point


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (MirrorOptions(in_port="1", flow="ip"), "not both"),
        (MirrorOptions(count=0), "at least 1"),
        (MirrorOptions(duration=-1), "positive"),
        (MirrorOptions(snaplen=70000), "1..65535"),
        (MirrorOptions(buffer_kib=6), "power of two"),
        (MirrorOptions(buffer_kib=2), "power of two"),
    ],
)
def test_options_that_make_no_sense(options: MirrorOptions, said: str) -> None:
    with pytest.raises(MirrorError, match=said):
        options.check()


@pytest.mark.parametrize(
    ("flow", "said"),
    [
        ("ip,actions=drop", "sets actions itself"),
        ("priority=5,ip", "sets priority itself"),
        ("table=x,ip", "needs a number"),
        ("table=254,ip", "not an OpenFlow table"),
    ],
)
def test_matches_that_are_not_matches(flow: str, said: str) -> None:
    with pytest.raises(MirrorError, match=said):
        MirrorOptions(flow=flow).point()
