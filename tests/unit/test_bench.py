"""The pure parts of bench/: the program generator, the datapath's self-checks and tables.

The datapath's checks are what makes a benchmark fail loudly when it did not
measure what it meant to; each row here is a round that must be refused.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bench import datapath, scaling
from bench.common import MeasurementError
from bench.datapath import CONFIGS, PmdSample, Sample

CONFIG = {c.key: c for c in CONFIGS}
N = 100_000
P = 50_000
#: Real output of the patched OVS 3.1 (dummy-pmd ports, configuration (c), 5000 packets).
PMD_DATA = Path(__file__).parent / "data" / "pmd"


def good_pmd(key: str) -> PmdSample:
    """A PMD round of configuration ``key`` as the switch reports it when all went right."""
    c = CONFIG[key]
    return PmdSample(
        sent=P,
        pmd_packets=P,
        main_packets=0,
        recirculations=P if c.reclassified else 0,
        busy_cycles=P * (4000 if c.action else 2000),
        median_cycles=3000.0 if c.action else 1500.0,
        histogram_iterations=-(-P // datapath.PMD_BURST),  # full bursts
        action_packets={n: (P if n == c.action else 0) for n in datapath.REGISTRATIONS},
        action_errors={n: 0 for n in datapath.REGISTRATIONS},
    )


def good(key: str) -> Sample:
    """A round of configuration ``key`` as the switch reports it when all went right."""
    c = CONFIG[key]
    if c.reclassified:
        flows = [
            "recirc_id(0),in_port(2),eth_type(0x0800),ipv4(proto=17,frag=no), "
            "actions:bpf(id=1,arg=0,in_port=1),recirc(0x1)",
            f"recirc_id(0x1),in_port(2),eth_type(0x0800),ipv4(proto=17,ttl={c.ttl_after},"
            "frag=no), actions:3",
        ]
    else:
        action = "bpf(id=1,arg=0,in_port=1)," if c.action else ""
        flows = [
            "recirc_id(0),in_port(2),eth_type(0x0800),ipv4(proto=17,ttl=64,frag=no), "
            f"actions:{action}3"
        ]
    names = list(datapath.REGISTRATIONS)
    return Sample(
        config=key,
        seconds=2.0,
        offered=3 * N,
        delivered=N,
        dp_packets=N,
        recirculations=N if c.reclassified else 0,
        cpu_ns=N * 3000,
        dp_flows=flows,
        action_packets={n: (N if n == c.action else 0) for n in names},
        action_errors={n: 0 for n in names},
        action_run_ns={n: (N * 1200 if n == c.action else 0) for n in names},
        pmd=good_pmd(key),
    )


@pytest.mark.parametrize("key", [c.key for c in CONFIGS])
def test_a_round_that_measured_its_configuration_passes(key: str) -> None:
    datapath.check_round(CONFIG[key], good(key))


def _no_recirc(s: Sample) -> Sample:
    return dataclasses.replace(
        s, recirculations=0, dp_flows=[f.replace(",recirc(0x1)", ",3") for f in s.dp_flows[:1]]
    )


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("a", lambda s: dataclasses.replace(s, delivered=0), "no packet went through"),
        ("b", lambda s: dataclasses.replace(s, delivered=N // 2), "lost inside the switch"),
        ("a", lambda s: good("b"), "a datapath flow runs an action"),
        ("b", lambda s: dataclasses.replace(s, dp_flows=good("a").dp_flows), "no datapath flow"),
        ("b", lambda s: dataclasses.replace(s, dp_flows=good("c").dp_flows), "recirculates"),
        ("b", lambda s: dataclasses.replace(s, recirculations=N // 10), "recirculations for"),
        ("c", _no_recirc, "no datapath flow recirculates"),
        ("c", lambda s: dataclasses.replace(s, recirculations=N // 2), "passes per packet"),
        ("d", lambda s: dataclasses.replace(s, dp_flows=good("c").dp_flows), "never saw TTL 63"),
        (
            "b",
            lambda s: dataclasses.replace(s, action_packets=s.action_packets | {"ro": 10}),
            "bpf/show ro counted 10",
        ),
        (
            "b",
            lambda s: dataclasses.replace(s, action_errors=s.action_errors | {"ro": 3}),
            "dropped or failed 3",
        ),
        (
            "c",
            lambda s: dataclasses.replace(s, action_packets=s.action_packets | {"ro": 5}),
            "not in this pipeline, ran 5",
        ),
    ],
)
def test_a_round_that_did_not_measure_its_configuration_fails(
    key: str, change: object, message: str
) -> None:
    assert callable(change)
    with pytest.raises(MeasurementError, match=re.escape(message)):
        datapath.check_round(CONFIG[key], change(good(key)))


def test_the_table_has_the_four_configurations_and_the_ratios() -> None:
    samples = [good(c.key) for c in CONFIGS for _ in range(3)]
    samples = [
        dataclasses.replace(s, cpu_ns=s.cpu_ns * (2 if s.config == "c" else 1)) for s in samples
    ]
    lines = datapath.table(
        datapath.summarize(samples), 3, 2.0, {"port_counter": 25, "dec_ttl": 9}, 2000.0
    )
    text = "\n".join(lines)
    for c in CONFIGS:
        assert f"| ({c.key}) | {c.label} |" in text
    assert (
        "| (c)/(b): forced re-classification against the proof | 2.00x | 1.00x | 1.00x | 1.00x |"
        in text
    )
    assert "| (b)/(a): a read-only action against none | 1.00x | 1.00x | 2.00x | 2.00x |" in text
    assert "| (b) | port_counter | 25 | 1200 | 0 | 0 | 2000 |" in text
    assert (
        "| (a) | stock, no action | 50.0 | 150.0 | 3000 | 3000–3000 | 6000 | 1 | 0.00 | 1.00 |"
        in text
    )
    # PMD cycles at 2000 MHz: 2000 cycles are 1000 ns.
    assert (
        "| (a) | stock, no action | 2000 | 2000–2000 | 1000 | 1500 | 1500–1500 | 750 | 1.00 |"
        in text
    )
    assert "| (d) | writer (dec_ttl), reclassify=lazy | 4000 | 4000–4000 | 2000 | 3000 " in text


def test_without_pmd_rounds_the_table_has_no_pmd_figures() -> None:
    samples = [dataclasses.replace(good(c.key), pmd=None) for c in CONFIGS]
    text = "\n".join(
        datapath.table(
            datapath.summarize(samples), 1, 2.0, {"port_counter": 25, "dec_ttl": 9}, None
        )
    )
    assert "PMD" not in text
    assert "| (c)/(b): forced re-classification against the proof | 1.00x | 1.00x |" in text


@pytest.mark.parametrize("key", [c.key for c in CONFIGS])
def test_a_pmd_round_that_measured_its_configuration_passes(key: str) -> None:
    datapath.check_pmd_round(CONFIG[key], good_pmd(key))


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("a", {"main_packets": 7}, "the main thread received 7 packets"),
        ("b", {"pmd_packets": P - 100, "busy_cycles": 1}, "the PMD thread received 49900"),
        ("a", {"busy_cycles": 0}, "no PMD cycles counted"),
        ("a", {"histogram_iterations": P + 1}, "cycles/pkt histogram holds 50001"),
        ("a", {"histogram_iterations": 100}, "cycles/pkt histogram holds 100 iterations"),
        ("a", {"histogram_iterations": P}, "not bursts of up to 32: this switch's netdev-dummy"),
        ("b", {"recirculations": 5000}, "1.100 datapath passes per packet, expected 1"),
        ("c", {"recirculations": 0}, "1.000 datapath passes per packet, expected 2"),
        ("d", {"action_packets": {"ro": 0, "ro_rc": 0, "ttl": 9}}, "bpf/show ttl counted 9"),
        ("c", {"action_errors": {"ro": 0, "ro_rc": 2, "ttl": 0}}, "dropped or failed 2"),
        ("a", {"action_packets": {"ro": 3, "ro_rc": 0, "ttl": 0}}, "not in this pipeline, ran 3"),
    ],
)
def test_a_pmd_round_that_did_not_measure_its_configuration_fails(
    key: str, change: dict[str, object], message: str
) -> None:
    bad = dataclasses.replace(good_pmd(key), **change)  # type: ignore[arg-type]
    with pytest.raises(MeasurementError, match=re.escape(message)):
        datapath.check_pmd_round(CONFIG[key], bad)


def test_pmd_stats_show_is_read_per_thread() -> None:
    threads = datapath.pmd_threads((PMD_DATA / "pmd-stats-show.txt").read_text())
    assert sorted(threads) == ["main thread", "pmd thread numa_id 0 core_id 1"]
    pmd = threads["pmd thread numa_id 0 core_id 1"]
    assert pmd["packets received"] == 5000 and pmd["packet recirculations"] == 5000
    assert pmd["processing cycles"] == 53290844
    assert "avg. datapath passes per packet" not in pmd  # not an integer: left out
    assert threads["main thread"]["packets received"] == 0


def test_pmd_perf_show_cycles_histogram_and_passes() -> None:
    text = (PMD_DATA / "pmd-perf-show.txt").read_text()
    bins = datapath.cycles_histogram(text)
    assert sum(n for _, n in bins) == 5000
    assert bins[0] == (100.0, 0) and bins[-1] == (float("inf"), 114)
    assert (7076.0, 1560) in bins and (8073.0, 2419) in bins
    # 2500th of 5000: 78 + 1560 below 7076, so 862 of the 2419 in (7076, 8073].
    assert datapath.histogram_median(bins) == pytest.approx(7076 + 997 * 862 / 2419)
    assert datapath.pmd_passes(text) == 2.0


def test_a_histogram_median_is_interpolated_and_refused_beyond_the_last_bound() -> None:
    assert datapath.histogram_median([(100.0, 0), (200.0, 4), (float("inf"), 0)]) == 150.0
    with pytest.raises(MeasurementError, match="beyond the histogram's last bound 200"):
        datapath.histogram_median([(100.0, 1), (200.0, 0), (float("inf"), 5)])
    with pytest.raises(MeasurementError, match="no histograms"):
        datapath.cycles_histogram("pmd thread numa_id 0 core_id 1:\n")


def test_the_injected_frame_is_trafgens_64_byte_udp_frame() -> None:
    frame = datapath.ipv4_udp_frame(1005)
    assert len(frame) == 64
    assert (
        frame[:6] == bytes.fromhex(datapath.SINK_MAC.replace(":", ""))
        and frame[12:14] == b"\x08\x00"
    )
    ip = frame[14:34]
    total = sum(int.from_bytes(ip[i : i + 2], "big") for i in range(0, 20, 2))
    assert (total & 0xFFFF) + (total >> 16) == 0xFFFF  # the header checksum holds
    assert ip[8] == 64 and ip[9] == 17  # TTL 64, UDP
    assert (
        int.from_bytes(frame[34:36], "big") == 1005 and int.from_bytes(frame[36:38], "big") == 9000
    )


def test_a_configuration_never_measured_is_an_error() -> None:
    with pytest.raises(MeasurementError, match=r"config \(d\) was never measured"):
        datapath.summarize([good("a"), good("b"), good("c")])


def test_pmd_stats_sums_every_thread() -> None:
    text = (
        "main thread:\n  packets received: 10\n  packet recirculations: 4\n"
        "pmd thread numa_id 0 core_id 1:\n  packets received: 5\n  packet recirculations: 1\n"
    )
    assert datapath.pmd_stats(text) == (15, 5)


def test_trafgen_sends_64_byte_frames_over_the_flows() -> None:
    h1 = datapath.Host("h1", "x-h1", "x-h1", 1, "02:00:00:00:00:01", "10.0.0.1")
    h2 = datapath.Host("h2", "x-h2", "x-h2", 2, "02:00:00:00:00:02", "10.0.0.2")
    cfg = datapath.trafgen_config(h1, h2)
    assert f"sp=dinc(1000, {1000 + datapath.FLOWS - 1})" in cfg
    fill = int(re.search(r"fill\(0x41, (\d+)\)", cfg)[1])  # type: ignore[index]
    assert 14 + 20 + 8 + fill == 64
    assert datapath.SINK_MAC in cfg and h2.mac not in cfg


@pytest.mark.parametrize("terms", [1, 8, 250, 251, 1000])
def test_the_generator_splits_terms_into_functions(terms: int) -> None:
    source = scaling.generate(terms)
    assert source == scaling.generate(terms)  # deterministic
    functions = re.findall(r"^part_(\d+)\(", source, re.M)
    assert len(functions) == -(-terms // scaling.TERMS_PER_FUNCTION)
    assert source.count("acc = acc * 31 + p[") == terms
    assert len(re.findall(r"acc = part_\d+\(p, acc\);", source)) == len(functions)
    assert "EXTFRAME_EFFECTS(read_only);" in source


def test_the_generator_refuses_an_empty_program() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        scaling.generate(0)
