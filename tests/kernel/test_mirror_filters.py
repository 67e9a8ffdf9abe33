"""The mirror action on the real kernel: it selects what tcpdump selects.

Each filter of a table of tcpdump expressions is compiled by libpcap,
translated and built into the mirror action, loaded through the verifier and
run (BPF_PROG_TEST_RUN) on every packet of a corpus; the packets that come
out of its ring buffer must be exactly the ones ``tcpdump -r corpus.pcap -w
- FILTER`` writes, byte for byte, in order. Crafted classic programs cover
every instruction the translation knows, against libpcap's own interpreter.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap, wrpcap

from extframe.build import build
from extframe.check import load_checked
from extframe.kernel.loader import LoadedObject, load_object
from extframe.kernel.ringbuf import RingReader
from extframe.kernel.testrun import RunInput, run
from extframe.mirror.codegen import COUNTERS, RECORD_HEADER, decode_record, mirror_source
from extframe.mirror.pcapfilter import CbpfInsn, compile_filter, reference_run

pytestmark = pytest.mark.kernel

H1, H2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def corpus() -> list[Packet]:
    """Frames of every kind the filter table asks about, and some that break parsers."""
    e = Ether(src=H1, dst=H2)
    ip = IP(src="10.0.0.1", dst="10.0.0.2")
    return [
        e / ip / UDP(sport=4000, dport=5001) / Raw(b"a" * 20),
        e / ip / UDP(sport=4000, dport=5002) / Raw(b"b" * 300),
        e / IP(src="10.0.0.5", dst="10.0.0.2") / TCP(sport=1234, dport=443, flags="S"),
        e / IP(src="10.0.0.1", dst="10.0.0.5") / TCP(sport=443, dport=1234, flags="SA"),
        e / ip / TCP(sport=3000, dport=80, flags="PA") / Raw(b"GET / HTTP/1.0\r\n\r\n"),
        e / ip / TCP(dport=22, flags="F"),
        e / ip / TCP(dport=22, flags="R"),
        e / IP(src="192.168.1.7", dst="10.0.0.2") / ICMP(type=8),
        e / IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=0),
        e / IP(src="10.0.0.1", dst="10.0.0.2", ttl=1) / UDP(dport=33434),
        e / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR()]) / TCP(dport=443),
        e / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / UDP(dport=5001) / Raw(b"x" * 40),
        e / IP(src="10.0.0.1", dst="10.0.0.2", frag=10, proto=17) / Raw(b"y" * 40),
        e / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.5") / TCP(dport=443, flags="S"),
        e / Dot1Q(vlan=7) / ip / UDP(dport=53),
        e / Dot1Q(vlan=5) / Dot1Q(vlan=100) / ip / UDP(dport=5001),
        e / IPv6(src="fd00::1", dst="fd00::2") / UDP(dport=5001),
        e / IPv6(src="fd00::1", dst="fd00::5") / TCP(dport=443, flags="S"),
        Ether(src=H1, dst="33:33:00:00:00:01")
        / IPv6(src="fd00::1", dst="ff02::1")
        / ICMPv6EchoRequest(),
        e / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / UDP(dport=5001),
        Ether(src=H1, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src=H1, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="10.0.0.1", dst="255.255.255.255")
        / UDP(dport=67),
        Ether(src=H1, dst="01:00:5e:00:00:01")
        / IP(src="10.0.0.1", dst="224.0.0.1")
        / UDP(dport=5353),
        Ether(src=H1, dst=H2, type=0x88CC) / Raw(b"lldp" * 10),
        e / IP(src="10.0.0.1", dst="10.0.0.2", proto=6),  # TCP without its header
        e / IPv6(src="fd00::1", dst="fd00::2", nh=17),  # UDP without its header
        e / ip / TCP(sport=5555, dport=8080, flags="A") / Raw(b"z" * 1400),
    ]


#: tcpdump expressions: hosts, nets, ports, protocols, VLAN, TCP flags, byte
#: offsets, IPv6, lengths, link-layer addresses.
FILTERS = [
    "",
    "ip",
    "ip6",
    "arp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "host 10.0.0.5",
    "src host 10.0.0.1",
    "dst host 10.0.0.2",
    "net 10.0.0.0/24",
    "src net 192.168.0.0/16",
    "ip host 10.0.0.1 and ip host 10.0.0.2",
    "port 443",
    "dst port 5001",
    "src port 443",
    "portrange 5000-5010",
    "tcp dst port 443 and host 10.0.0.5",
    "udp and not port 53",
    "tcp and (port 80 or port 22)",
    "ip proto 17",
    "ip6 and udp",
    "ip6 dst fd00::5",
    "ip6 and tcp port 443",
    "ip6 multicast",
    "vlan",
    "vlan 5",
    "vlan and udp",
    "vlan 5 and vlan 100",
    "not vlan and ip",
    "tcp[13] & 2 != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
    "tcp[tcpflags] & tcp-rst != 0",
    "icmp[icmptype] == icmp-echo",
    "ip[8] == 1",
    "ip[6:2] & 0x3fff != 0",
    "ip[0] & 0xf > 5",
    "udp[8:4] == 0x61616161",
    "ether broadcast",
    "ether multicast",
    "ether dst 02:00:00:00:00:02 and not ip",
    "ether proto 0x88cc",
    "ip multicast",
    "ip broadcast",
    "greater 1000",
    "less 64",
    "len >= 60 and len <= 100",
]


def _run_all(obj: LoadedObject, packets: list[bytes]) -> list[bytes]:
    """Run the action on each packet; the records its ring buffer holds afterwards."""
    prog = obj.program("mirror")
    for p in packets:
        out = run(prog, RunInput(packet=p))
        assert out.verdict == "continue" and out.packet == p, "the mirror changed a packet"
    got: list[bytes] = []
    with RingReader(obj.map("mirror_ring").fd, lambda raw: got.append(raw) and None) as ring:
        ring.consume()
    return got


def _counters(obj: LoadedObject) -> dict[str, int]:
    raw = obj.map("mirror_stats").lookup(b"\0\0\0\0")
    assert raw is not None
    return {n: int.from_bytes(raw[i * 8 : i * 8 + 8], "little") for i, n in enumerate(COUNTERS)}


def _action(
    tmp: Path, insns: list[CbpfInsn], what: str, snaplen: int = 65535, ring: int = 1 << 20
) -> Path:
    src = tmp / "mirror.c"
    src.write_text(mirror_source(insns, what, snaplen=snaplen, ring_bytes=ring))
    return build(src, tmp / "mirror.o")


@pytest.fixture(scope="module")
def packets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    folder = tmp_path_factory.mktemp("corpus")
    frames = corpus()
    wrpcap(str(folder / "corpus.pcap"), frames)
    return folder / "corpus.pcap", [bytes(f) for f in frames]


@pytest.mark.parametrize("expression", FILTERS)
def test_filter_selects_what_tcpdump_selects(
    expression: str, packets: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    pcap, frames = packets
    selected = tmp_path / "tcpdump.pcap"
    subprocess.run(
        ["tcpdump", "-r", str(pcap), "-w", str(selected), expression],
        check=True,
        capture_output=True,
    )
    want = [bytes(p) for p in rdpcap(str(selected))]
    assert 0 < len(want) < len(frames) or expression == "", (
        f"{expression!r} should select some of the corpus but not all: {len(want)}"
    )
    with load_object(_action(tmp_path, compile_filter(expression), expression)) as obj:
        records = [decode_record(r) for r in _run_all(obj, frames)]
        counters = _counters(obj)
    assert [r.data for r in records] == want
    assert [r.wire_len for r in records] == [len(w) for w in want]
    assert counters == {
        "seen": len(frames),
        "accepted": len(want),
        "captured": len(want),
        "ring_full": 0,
    }


def test_the_generated_action_is_proved_read_only(tmp_path: Path) -> None:
    """What registration requires of a mirror, for a filter that touches every layer."""
    expr = "vlan and tcp[13] & 2 != 0 or ip6 and udp port 53 or ip[0] & 0xf > 5"
    src = tmp_path / "mirror.c"
    src.write_text(mirror_source(compile_filter(expr), expr, snaplen=65535, ring_bytes=1 << 22))
    loaded, checked = load_checked(src)
    with loaded:
        (analysis,) = checked.analyses
    effects = analysis.effects
    assert effects.verdict == "read_only", effects.reasons
    assert not effects.packet_writes and not effects.metadata_writes
    assert not effects.flow_key_affected
    written = {m.name for m in effects.maps if m.written}
    assert written == {"mirror_ring", "mirror_scratch", "mirror_stats"}


def test_snap_length_cuts_packets_and_keeps_their_length(
    packets: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    _, frames = packets
    with load_object(_action(tmp_path, compile_filter("", 60), "", snaplen=60)) as obj:
        records = [decode_record(r) for r in _run_all(obj, frames)]
    assert [r.data for r in records] == [f[:60] for f in frames]
    assert [r.wire_len for r in records] == [len(f) for f in frames]


def test_a_full_ring_buffer_is_counted_not_silent(tmp_path: Path) -> None:
    frame = bytes(Ether() / IP() / UDP() / Raw(b"p" * 958))  # 1000 bytes
    with load_object(_action(tmp_path, compile_filter(""), "", ring=4096)) as obj:
        records = _run_all(obj, [frame] * 10)
        c = _counters(obj)
    assert c["accepted"] == 10
    assert c["ring_full"] > 0, "a 4 KiB ring cannot hold ten 1000-byte records"
    assert c["captured"] + c["ring_full"] == 10
    assert len(records) == c["captured"]
    assert all(len(r) == RECORD_HEADER.size + 1000 for r in records)


# -- every classic instruction, against libpcap's interpreter -------------------------

# <pcap/bpf.h> opcodes, spelled out so that each program below reads like `tcpdump -d`.
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0,
)  # fmt: skip
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
RA = 0x10
TAX, TXA = 0x00, 0x80


def i(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> CbpfInsn:
    return CbpfInsn(code, jt, jf, k & 0xFFFFFFFF)


#: Ends a program with A folded into 1..64: the capture length then shows A.
SHOW_A = [i(ALU | AND | K, 0x3F), i(ALU | ADD | K, 1), i(RET | RA)]

PROGRAMS: dict[str, list[CbpfInsn]] = {
    "alu with constants": [
        i(LD | W | ABS, 26),
        i(ALU | ADD | K, 0x1234567),
        i(ALU | SUB | K, 99),
        i(ALU | MUL | K, 2654435761),
        i(ALU | DIV | K, 3),
        i(ALU | MOD | K, 1000003),
        i(ALU | OR | K, 0x10),
        i(ALU | XOR | K, 0xFF00FF),
        i(ALU | LSH | K, 3),
        i(ALU | RSH | K, 2),
        i(ALU | NEG),
        *SHOW_A,
    ],
    "alu with X": [
        i(LDX | W | IMM, 7),
        i(LD | H | ABS, 12),
        i(ALU | ADD | X),
        i(ALU | SUB | X),
        i(ALU | MUL | X),
        i(ALU | OR | X),
        i(ALU | AND | X),
        i(ALU | XOR | X),
        i(ALU | LSH | X),
        i(ALU | RSH | X),
        i(ALU | DIV | X),
        i(ALU | MOD | X),
        *SHOW_A,
    ],
    "division by a zero X rejects": [
        i(LDX | W | IMM, 0),
        i(LD | W | IMM, 9),
        i(ALU | DIV | X),
        *SHOW_A,
    ],
    "modulo by a zero X rejects": [
        i(LDX | W | IMM, 0),
        i(LD | W | IMM, 9),
        i(ALU | MOD | X),
        *SHOW_A,
    ],
    "shifts by 32 or more": [
        i(LD | W | IMM, 0xFFFFFFFF),
        i(LDX | W | IMM, 40),
        i(ALU | LSH | X),
        i(ALU | ADD | K, 5),
        i(ST, 0),
        i(LD | W | IMM, 0xFFFFFFFF),
        i(ALU | RSH | X),
        i(LDX | W | MEM, 0),
        i(ALU | ADD | X),
        *SHOW_A,
    ],
    "loads of every width, absolute": [
        i(LD | B | ABS, 14),
        i(ST, 1),
        i(LD | H | ABS, 20),
        i(LDX | W | MEM, 1),
        i(ALU | ADD | X),
        i(ST, 2),
        i(LD | W | ABS, 30),
        i(LDX | W | MEM, 2),
        i(ALU | XOR | X),
        *SHOW_A,
    ],
    "an absolute load past the end rejects": [i(LD | W | ABS, 1498), *SHOW_A],
    "indexed loads": [
        i(LDX | B | MSH, 14),
        i(LD | H | IND, 14 + 2),
        i(ST, 3),
        i(LD | B | IND, 14),
        i(LDX | W | MEM, 3),
        i(ALU | ADD | X),
        *SHOW_A,
    ],
    "an indexed load past the end rejects": [
        i(LD | LEN),
        i(MISC | TAX),
        i(LD | B | IND, 0),
        *SHOW_A,
    ],
    "an indexed offset that wraps rejects": [
        i(LDX | W | IMM, 0xFFFFFFFF),
        i(LD | B | IND, 2),
        *SHOW_A,
    ],
    "lengths and scratch words": [
        i(LD | LEN),
        i(ST, 15),
        i(LDX | W | LEN),
        i(STX, 14),
        i(LD | W | MEM, 15),
        i(LDX | W | MEM, 14),
        i(ALU | ADD | X),
        i(MISC | TAX),
        i(MISC | TXA),
        *SHOW_A,
    ],
    "jumps on constants": [
        i(LD | B | ABS, 23),
        i(JMP | JEQ | K, 17, 0, 2),
        i(LD | W | IMM, 11),
        i(JMP | JA, 6),
        i(JMP | JGT | K, 10, 0, 2),
        i(LD | W | IMM, 22),
        i(JMP | JA, 3),
        i(JMP | JGE | K, 6, 1, 0),
        i(RET | K, 0),
        i(JMP | JSET | K, 0x4, 0, 3),
        *SHOW_A,
        i(RET | K, 33),
    ],
    "jumps on X": [
        i(LD | B | ABS, 15),
        i(MISC | TAX),
        i(LD | B | ABS, 16),
        i(JMP | JGT | X, 0, 0, 3),
        i(JMP | JGE | X, 0, 0, 2),
        i(JMP | JSET | X, 0, 0, 1),
        i(JMP | JEQ | X, 0, 3, 0),
        *SHOW_A,
        i(RET | K, 48),
    ],
    "return a constant": [i(RET | K, 17)],
}


def _frames() -> list[bytes]:
    rng = random.Random(7)
    frames = [bytes(f) for f in corpus()]
    frames += [bytes(rng.getrandbits(8) for _ in range(n)) for n in (14, 15, 60, 64, 100, 1500)]
    return frames


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_every_classic_instruction_matches_libpcap(name: str, tmp_path: Path) -> None:
    insns = PROGRAMS[name]
    frames = _frames()
    expected = [min(reference_run(insns, f), len(f)) for f in frames]
    assert any(expected) or "rejects" in name, f"{name}: the program accepts nothing"
    if "rejects" in name:
        assert not any(expected[len(corpus()) :]), f"{name}: libpcap accepts"
    with load_object(_action(tmp_path, insns, name)) as obj:
        prog = obj.program("mirror")
        records: list[bytes] = []
        got = []
        with RingReader(
            obj.map("mirror_ring").fd, lambda raw: records.append(raw) and None
        ) as ring:
            for f in frames:
                run(prog, RunInput(packet=f))
                records.clear()
                ring.consume()
                got.append(len(decode_record(records[0]).data) if records else 0)
    assert got == expected
