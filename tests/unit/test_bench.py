"""The pure parts of bench/: the program generator, the datapath's self-checks and tables.

The datapath's checks are what makes a benchmark fail loudly when it did not
measure what it meant to; each row here is a round that must be refused.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from bench import datapath, scaling
from bench.common import MeasurementError
from bench.datapath import CONFIGS, Sample

CONFIG = {c.key: c for c in CONFIGS}
N = 100_000


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
    assert "| (c)/(b): forced re-classification against the proof | 2.00x | 1.00x |" in text
    assert "| (b)/(a): a read-only action against none | 1.00x | 1.00x |" in text
    assert "| (b) | port_counter | 25 | 1200 | 0 | 0 |" in text
    assert (
        "| (a) | stock, no action | 50.0 | 150.0 | 3000 | 3000–3000 | 6000 | 1 | 0.00 | 1.00 |"
        in text
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
