"""``python -m bench datapath`` on a private sandbox: one short round of each configuration.

No timing is asserted (bench/README.md): the round must pass the
benchmark's own checks (configuration (b) runs the action without
recirculation, (c), (d) and (e) recirculate, (f) sets the TTL in the
datapath flow itself, (g), dec_ttl registered lazily before a table 1 that
matches any packet, does not recirculate and has as many datapath flows as
(b), every packet arrives; on the dummy-pmd switch, a PMD thread and not
the main thread took every packet; (d) runs in-process and (e) in the
kernel) and the tables must show the seven configurations, PMD cycles
included. The action-cost part runs one short round of three actions: one
that goes on and still recirculates (dec_ttl, whose TTL table 1 matches),
one that goes on without recirculating (mac_rewrite, lazy: table 1 does not
match MACs), one that drops the bench's frames, and the control, an empty
program (bench/nop.c), each timed in the kernel after its round.

The pure parts the summary line is made of (per-round ratios, the action
cost, the line itself, the flow checks of (f), (g) and of the action-cost
pipelines, the lazy prediction) are tested here too, without OVS.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from bench import datapath
from bench.common import MeasurementError
from bench.datapath import ActionCost, PmdSummary, ProgramRun, Summary
from extframe.ovs.sandbox import Sandbox
from extframe.ovs.switch import Registered

CONFIG = {c.key: c for c in datapath.ALL_CONFIGS}


@pytest.mark.ovs
@pytest.mark.kernel
def test_one_round_of_each_configuration_is_measured_and_checked(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    if shutil.which("trafgen") is None:
        pytest.skip("trafgen is not installed (Debian's netsniff-ng; make setup installs it)")
    samples = datapath.measure(sandbox, rounds=1, seconds=0.5, pmd_packets=2000)
    assert [s.config for s in samples] == ["a", "b", "c", "d", "e", "f", "g"]
    by = {s.config: s for s in samples}
    assert by["b"].recirculations == 0 and by["b"].action_packets["ro"] > 0
    assert by["c"].recirculations > 0 and by["d"].recirculations > 0
    assert by["e"].recirculations > 0 and by["f"].recirculations == 0
    assert by["g"].recirculations == 0 and by["g"].action_packets["ttl"] > 0
    assert len(by["g"].dp_flows) == len(by["b"].dp_flows)
    assert by["d"].runs_on == "inproc" and by["e"].runs_on == "kernel"
    assert by["e"].action_packets["ttl_k"] > 0 and by["e"].action_packets["ttl"] == 0
    assert not any(by["f"].action_packets.values())
    assert any("set(ipv4(ttl=63))" in f for f in by["f"].dp_flows)
    assert all(s.delivered > 0 and s.cpu_ns > 0 for s in samples)
    pmd = {s.config: s.pmd for s in samples if s.pmd is not None}
    assert sorted(pmd) == ["a", "b", "c", "d", "e", "f", "g"]
    for key, p in pmd.items():
        assert p.pmd_packets == p.sent == 2000 and p.main_packets == 0
        # One netdev-dummy/receive --repeat call, taken 32 at a time (a poll may find fewer).
        assert p.busy_cycles > 0 and 2000 // 32 <= p.histogram_iterations <= 2000 // 8
        assert p.recirculations == (2000 if key in "cde" else 0)
    assert pmd["b"].action_packets["ro"] == 2000 and pmd["d"].action_packets["ttl"] == 2000
    assert pmd["e"].action_packets["ttl_k"] == 2000 and pmd["g"].action_packets["ttl"] == 2000
    assert len(pmd["g"].dp_flows) == len(pmd["b"].dp_flows)
    assert not (sandbox.run_dir.parent / "pmd-switch" / "ovs-vswitchd.pid").exists()
    summaries = datapath.summarize(samples, datapath.ALL_CONFIGS)
    lines = datapath.table(summaries, 1, 0.5, {"port_counter": 1.0, "dec_ttl": 1.0}, 2100.0, 2000)
    text = "\n".join(lines)
    for c in datapath.ALL_CONFIGS:
        assert text.count(f"| ({c.key}) | {c.label} |") == 2  # the veth table and the PMD one
    assert "PMD cycles/pkt" in text and "2000 packets a round" in text
    assert "(c)/(b)" in text and "(b)/(a)" in text and "(d)/(f)" in text and "(e)/(d)" in text
    assert "(g)/(d)" in text and "(g)/(b)" in text
    for key in "deg":
        assert f"| ({key}) | dec_ttl |" in text

    names = ("dec_ttl", "mac_rewrite", "vlan_push")
    sources = [*(datapath.ACTIONS / f"{n}.c" for n in names), datapath.CONTROL]
    runs = datapath.program_runs(sources)
    assert runs["dec_ttl"].verdict == "continue" and runs["dec_ttl"].ttl == 63
    assert runs["vlan_push"].verdict == "drop"  # no argument: VLAN ID 0 is refused
    assert runs["nop"].source == datapath.CONTROL and runs["nop"].ttl == 64
    costs = datapath.measure_action_costs(tmp_path / "pmd-actions", runs, 1, 2000)
    assert [
        (c.config.action, c.runs_on, c.config.mode, c.fields, c.config.reclassified) for c in costs
    ] == [
        ("dec_ttl", "inproc", "lazy", ("nw_ttl",), True),
        ("mac_rewrite", "inproc", "lazy", ("dl_dst", "dl_src"), False),
        ("vlan_push", "inproc", "lazy", ("unknown",), True),
        ("nop", "inproc", "no", (), False),
    ]
    assert [c.control for c in costs] == [False, False, False, True]
    assert all(len(c.cycles) == len(c.stock) == 1 for c in costs)
    # Each round's program run, timed in the kernel right after the round.
    assert all(len(c.prog_rounds) == 1 and c.prog_ns == c.prog_rounds[0] > 0 for c in costs)
    assert not (tmp_path / "pmd-actions" / "ovs-vswitchd.pid").exists()
    figures = datapath.summary_figures(summaries, datapath.median_action_cost(costs, 2100.0))
    assert re.fullmatch(
        r"summary: action_cost_over_program_run=-?\d+\.\d\d readonly_over_stock_cycles=\d+\.\d\d "
        r"forced_over_readonly_cycles=\d+\.\d\d bpf_dec_ttl_over_native_dec_ttl=\d+\.\d\d "
        r"lazy_dec_ttl_over_reclassified_cycles=\d+\.\d\d",
        datapath.summary_line(figures),
    )


@pytest.mark.ovs
@pytest.mark.kernel
def test_the_pmd_switch_runs_with_a_thread_cache_that_holds_a_burst(tmp_path: Path) -> None:
    before = os.environ.get("GLIBC_TUNABLES")
    with datapath.pmd_switch(tmp_path / "pmd", {}) as pmd:
        pid = pmd.sw.pid("ovs-vswitchd")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        tunables = [e for e in environ if e.startswith(b"GLIBC_TUNABLES=")]
        assert tunables and tunables[0].endswith(datapath.PMD_GLIBC_TUNABLES.encode())
    assert os.environ.get("GLIBC_TUNABLES") == before  # this process's is as it was


# ------------------------------------------------------------ the pure parts, without OVS


def test_the_summary_line_has_its_five_figures_in_order_with_two_decimals() -> None:
    figures = {
        "lazy_dec_ttl_over_reclassified_cycles": 0.801,
        "bpf_dec_ttl_over_native_dec_ttl": 3.456,
        "readonly_over_stock_cycles": 1.7,
        "action_cost_over_program_run": 61.004,
        "forced_over_readonly_cycles": 0.995,
    }
    assert datapath.summary_line(figures) == (
        "summary: action_cost_over_program_run=61.00 readonly_over_stock_cycles=1.70 "
        "forced_over_readonly_cycles=0.99 bpf_dec_ttl_over_native_dec_ttl=3.46 "
        "lazy_dec_ttl_over_reclassified_cycles=0.80"
    )
    del figures["forced_over_readonly_cycles"]
    with pytest.raises(MeasurementError, match="no forced_over_readonly_cycles"):
        datapath.summary_line(figures)


def test_a_ratio_is_the_median_of_the_rounds_own_ratios_not_the_ratio_of_medians() -> None:
    # Round by round: 2.0, 1.5, 4.0; the medians alone would give 3000 / 1000 = 3.0.
    r = datapath.per_round_ratio([2000.0, 3000.0, 4000.0], [1000.0, 2000.0, 1000.0])
    assert (r.median, r.low, r.high) == (2.0, 1.5, 4.0)
    with pytest.raises(MeasurementError, match="3 rounds against 2"):
        datapath.per_round_ratio([1.0, 2.0, 3.0], [1.0, 2.0])


def _summary(key: str, cycles: tuple[float, ...]) -> Summary:
    pmd = PmdSummary(
        cycles=0.0,
        cycles_range=(0.0, 0.0),
        median=0.0,
        median_range=(0.0, 0.0),
        passes=1.0,
        cycles_rounds=cycles,
        median_rounds=cycles,
    )
    return Summary(CONFIG[key], 1.0, 1.0, 1.0, (1.0, 1.0), 1, 0.0, 1.0, None, pmd)


def test_the_summary_figures_pair_the_pmd_rounds_of_their_configurations() -> None:
    summaries = [
        _summary("a", (1000.0, 2000.0, 1000.0)),
        _summary("b", (2000.0, 3000.0, 4000.0)),  # (b)/(a): 2.0, 1.5, 4.0
        _summary("c", (2200.0, 3000.0, 4000.0)),  # (c)/(b): 1.1, 1.0, 1.0
        _summary("d", (3000.0, 3000.0, 3000.0)),
        _summary("f", (1000.0, 1500.0, 3000.0)),  # (d)/(f): 3.0, 2.0, 1.0
        _summary("g", (2400.0, 1500.0, 3300.0)),  # (g)/(d): 0.8, 0.5, 1.1
    ]
    assert datapath.summary_figures(summaries, 42.0) == {
        "action_cost_over_program_run": 42.0,
        "readonly_over_stock_cycles": 2.0,
        "forced_over_readonly_cycles": 1.0,
        "bpf_dec_ttl_over_native_dec_ttl": 2.0,
        "lazy_dec_ttl_over_reclassified_cycles": 0.8,
    }
    assert list(datapath.summary_figures(summaries, 42.0)) == list(datapath.SUMMARY)
    with pytest.raises(MeasurementError, match=r"needs the PMD rounds of \(d\) and \(f\)"):
        datapath.summary_figures(summaries[:4], 42.0)
    with pytest.raises(MeasurementError, match=r"needs the PMD rounds of \(g\) and \(d\)"):
        datapath.summary_figures(summaries[:5], 42.0)


def _registered(
    name: str, mode: str, fields: tuple[str, ...] = (), runs_on: str = "inproc", why: str = ""
) -> Registered:
    """What bpf/list --json gives for ``name`` (``reclassify=MODE fields=FIELDS``)."""
    options = {
        "reclassify": mode,
        "fields": list(fields),
        "unrunnable": "drop",
        "executor": "auto",
    }
    return Registered(name, f"/pins/{name}", 1, options, runs_on, why)


#: How extframe register lists the bundled writers (extframe/ovs/registry.py).
DEC_TTL = _registered("dec_ttl", "lazy", ("nw_ttl",))
VLAN_PUSH = _registered("vlan_push", "lazy", ("unknown",))


def test_an_actions_cost_is_its_median_added_cycles_over_its_program_run_in_cycles() -> None:
    ro = _registered("x", "no")
    config = datapath.action_config("x", ro, ProgramRun(ns=10.0, verdict="continue", ttl=64))
    cost = ActionCost(
        config=config,
        runs_on="kernel",
        prog_ns=10.0,
        cycles=(5000.0, 6000.0, 7000.0),
        stock=(3000.0, 3000.0, 6000.0),  # added: 2000, 3000, 1000
    )
    assert cost.added == [2000.0, 3000.0, 1000.0]
    assert cost.prog_cycles(2000.0) == 20.0  # 10 ns at 2000 MHz
    assert cost.over_program_run(2000.0) == 100.0
    other = ActionCost(config, "inproc", 5.0, (1500.0,), (1000.0,))  # 500 / 10 = 50
    third = ActionCost(config, "inproc", 1.0, (1100.0,), (1000.0,))  # 100 / 2 = 50
    assert datapath.median_action_cost([cost, other, third], 2000.0) == 50.0
    with pytest.raises(MeasurementError, match="3 rounds against 2 of"):
        _ = ActionCost(config, "kernel", 1.0, (1.0, 2.0, 3.0), (1.0, 2.0)).added


def test_with_a_program_run_per_round_the_cost_is_the_median_of_the_rounds_own_ratios() -> None:
    config = datapath.action_config("x", _registered("x", "no"), ProgramRun(10.0, "continue", 64))
    cost = ActionCost(
        config=config,
        runs_on="inproc",
        prog_ns=10.0,
        cycles=(1200.0, 1600.0, 1300.0),
        stock=(1000.0, 1000.0, 1000.0),  # added: 200, 600, 300
        prog_rounds=(10.0, 20.0, 30.0),  # 20, 40, 60 cycles at 2000 MHz
    )
    # The rounds' ratios are 10, 15 and 5: their median, not 300 / 40 (7.5).
    assert cost.over_program_run(2000.0) == 10.0
    short = ActionCost(config, "inproc", 10.0, (1.0, 2.0), (0.0, 0.0), prog_rounds=(1.0,))
    with pytest.raises(MeasurementError, match="1 program runs against 2 rounds"):
        short.over_program_run(2000.0)


def test_the_control_is_shown_but_left_out_of_the_median() -> None:
    run = ProgramRun(ns=5.0, verdict="continue", ttl=64, source=datapath.CONTROL)
    nop = ActionCost(
        datapath.action_config("nop", _registered("nop", "no"), run), "inproc", 5.0,
        (1100.0,), (1000.0,),
    )  # fmt: skip
    x = ActionCost(
        datapath.action_config("x", _registered("x", "no"), run), "inproc", 5.0,
        (1030.0,), (1000.0,),
    )  # fmt: skip
    assert nop.control and not x.control
    assert datapath.median_action_cost([nop, x], 2000.0) == 3.0  # 30 / 10; nop's 10.0 is not in
    text = "\n".join(datapath.action_cost_table([nop, x], 2000.0, 1, 2000, 20000))
    assert "| nop (control: an empty program) | inproc | no |" in text
    assert "the median over the 1 actions: 3.00x" in text
    assert "nop, the control, adds 100 cycles a packet" in text
    # The control comes after the actions.
    assert text.index("| x | inproc") < text.index("| nop (control")
    with pytest.raises(MeasurementError, match="no action was measured"):
        datapath.median_action_cost([nop], 2000.0)


def test_the_action_cost_table_says_which_executor_ran_each_action() -> None:
    runs = {
        "dec_ttl": ProgramRun(ns=7.0, verdict="continue", ttl=63),
        "vlan_push": ProgramRun(ns=8.0, verdict="drop", ttl=64),
        "nat44": ProgramRun(ns=5.0, verdict="continue", ttl=64),
    }
    nat44 = _registered("nat44", "lazy", ("nw_src",))
    costs = [
        ActionCost(datapath.action_config("dec_ttl", DEC_TTL, runs["dec_ttl"]), "inproc", 7.0,
                   (3400.0,), (3000.0,), fields=("nw_ttl",)),
        ActionCost(datapath.action_config("vlan_push", VLAN_PUSH, runs["vlan_push"]), "kernel",
                   8.0, (5000.0,), (3000.0,), fields=("unknown",)),
        ActionCost(datapath.action_config("nat44", nat44, runs["nat44"]), "inproc", 5.0,
                   (3100.0,), (3000.0,), fields=("nw_src",)),
    ]  # fmt: skip
    text = "\n".join(datapath.action_cost_table(costs, 2000.0, 1, 2000, 20000))
    # 400 cycles over 14; 2000 over 16; 100 over 10.
    assert (
        "| dec_ttl | inproc | lazy (nw_ttl) | continue, TTL 63 | udp, nw_ttl=64 or 63 | yes "
        "| 7 | 14 |" in text
    )
    assert (
        "| vlan_push | kernel | lazy (unknown) | drop | udp, nw_ttl=64 or 63 | yes | 8 | 16 |"
        in text
    )
    assert (
        "| nat44 | inproc | lazy (nw_src) | continue, TTL 64 | udp, nw_ttl=64 or 63 | no "
        "| 5 | 10 |" in text
    )
    assert "| 400 | 400–400 | - | 28.6x |" in text and "| 2000 | 2000–2000 | - | 125.0x |" in text
    assert "| 100 | 100–100 | - | 10.0x |" in text
    assert (
        "the median over the 3 actions: 28.57x (inproc: 19.29x over 2; kernel: 125.00x over 1)"
        in text
    )


#: dpctl/dump-flows of the patched OVS 3.1 (dummy-pmd ports) after 10,000 packets.
NATIVE_FLOW = (
    "recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,ttl=64,"
    "frag=no), packets:10063, bytes:644032, used:0.006s, actions:set(ipv4(ttl=63)),2"
)
STOCK_FLOW = (
    "recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,ttl=64,"
    "frag=no), packets:10062, bytes:643968, used:0.008s, actions:2"
)
BPF_RECIRC_FLOW = (
    "recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no), "
    "packets:10062, bytes:643968, used:0.006s, actions:bpf(id=5,arg=0,in_port=1),recirc(0x1)"
)
SECOND_PASS_FLOW = (
    "recirc_id(0x1),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,ttl=63,"
    "frag=no), packets:10063, bytes:644032, used:0.011s, actions:2"
)


def test_native_dec_ttl_must_set_ttl_63_in_one_pass_without_an_action() -> None:
    f = CONFIG["f"]
    assert datapath.flows(f)[0] == "table=0,priority=10,udp,in_port=1,actions=dec_ttl,resubmit(,1)"
    assert f.passes == 1
    datapath.check_flows(f, [NATIVE_FLOW], "f")
    with pytest.raises(MeasurementError, match=r"set TTL \[\], expected TTL 63"):
        datapath.check_flows(f, [STOCK_FLOW], "f")
    with pytest.raises(MeasurementError, match="a datapath flow runs an action"):
        datapath.check_flows(f, [BPF_RECIRC_FLOW, SECOND_PASS_FLOW], "f")
    # The eBPF writers decrement inside the program: no datapath flow of theirs sets a TTL.
    datapath.check_flows(CONFIG["e"], [BPF_RECIRC_FLOW, SECOND_PASS_FLOW], "e")
    with pytest.raises(MeasurementError, match=r"set TTL \[63\], expected none"):
        datapath.check_flows(CONFIG["a"], [NATIVE_FLOW], "a")


BPF_ONE_PASS_FLOW = (
    "recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no), "
    "packets:10062, bytes:643968, used:0.006s, actions:bpf(id=5,arg=0,in_port=1),2"
)


def _pmd_sample(action: str, recirculations: int, flows: list[str]) -> datapath.PmdSample:
    """A PMD round of 2000 packets that ``action`` ran on once each and let go on."""
    P = 2000
    return datapath.PmdSample(
        sent=P, pmd_packets=P, main_packets=0, recirculations=recirculations,
        busy_cycles=P * 4000, median_cycles=3000.0, histogram_iterations=-(-P // 32),
        action_packets={action: P}, action_drops={action: 0}, action_errors={action: 0},
        dp_flows=flows,
    )  # fmt: skip


def _sample(key: str, recirculations: int, flows: list[str]) -> datapath.Sample:
    """A veth round of ``key``'s configuration, 100,000 packets, each delivered."""
    action = CONFIG[key].action or ""
    return datapath.Sample(
        config=key, seconds=2.0, offered=300_000, delivered=100_000, dp_packets=100_000,
        recirculations=recirculations, cpu_ns=10**8, dp_flows=flows,
        action_packets={action: 100_000}, action_errors={action: 0}, action_drops={action: 0},
    )  # fmt: skip


def test_lazy_dec_ttl_before_a_table_that_matches_no_ttl_must_take_one_pass() -> None:
    g = CONFIG["g"]
    assert (g.action, g.mode, g.reclassified, g.passes) == ("ttl", "lazy", False, 1)
    assert datapath.flows(g) == [
        "table=0,priority=10,udp,in_port=1,actions=bpf(ttl),resubmit(,1)",
        "table=1,priority=10,actions=output:2",
    ]
    datapath.check_flows(g, [BPF_ONE_PASS_FLOW], "g")
    with pytest.raises(MeasurementError, match="a datapath flow recirculates"):
        datapath.check_flows(g, [BPF_RECIRC_FLOW, SECOND_PASS_FLOW], "g")
    datapath.check_pmd_round(g, _pmd_sample("ttl", 0, [BPF_ONE_PASS_FLOW]))
    with pytest.raises(MeasurementError, match=r"2\.000 datapath passes per packet, expected 1"):
        datapath.check_pmd_round(g, _pmd_sample("ttl", 2000, [BPF_ONE_PASS_FLOW]))
    datapath.check_round(g, _sample("g", 0, [BPF_ONE_PASS_FLOW]))
    with pytest.raises(MeasurementError, match="100000 recirculations for 100000 packets"):
        datapath.check_round(g, _sample("g", 100_000, [BPF_ONE_PASS_FLOW]))


def test_lazy_dec_ttl_must_have_as_many_datapath_flows_as_the_read_only_action() -> None:
    ro_flow = BPF_ONE_PASS_FLOW.replace("id=5", "id=4")

    def round_of(g_flows: list[str], g_pmd_flows: list[str]) -> dict[str, datapath.Sample]:
        b, g = _sample("b", 0, [ro_flow]), _sample("g", 0, g_flows)
        b.pmd, g.pmd = _pmd_sample("ro", 0, [ro_flow]), _pmd_sample("ttl", 0, g_pmd_flows)
        return {"a": _sample("a", 0, [STOCK_FLOW]), "b": b, "g": g}

    one = [BPF_ONE_PASS_FLOW]
    datapath.check_flow_counts(datapath.ALL_CONFIGS, round_of(one, one))
    two = [BPF_ONE_PASS_FLOW, BPF_ONE_PASS_FLOW.replace("proto=17", "proto=17,ttl=64")]
    with pytest.raises(
        MeasurementError,
        match=re.escape(
            "config (g) writer (dec_ttl), reclassify=lazy, table 1 matches any packet: "
            "2 datapath flows, (b) 1 in the same round"
        ),
    ):
        datapath.check_flow_counts(datapath.ALL_CONFIGS, round_of(two, [BPF_ONE_PASS_FLOW]))
    with pytest.raises(
        MeasurementError, match=re.escape("any packet, PMD switch: 2 datapath flows, (b) 1")
    ):
        datapath.check_flow_counts(datapath.ALL_CONFIGS, round_of([BPF_ONE_PASS_FLOW], two))
    without_b = round_of([BPF_ONE_PASS_FLOW], [BPF_ONE_PASS_FLOW])
    del without_b["b"]
    with pytest.raises(MeasurementError, match=r"\(g\) is checked against \(b\)"):
        datapath.check_flow_counts(datapath.ALL_CONFIGS, without_b)


#: Each bundled writer as extframe register lists it, and whether the datapath must
#: recirculate after it before table 1's TTL rules and before a table 1 that matches any
#: packet (the lookup examines dl_type and nw_frag either way).
LAZY_PREDICTIONS = [
    ("dec_ttl", ("nw_ttl",), True, False),
    ("dscp_remark", ("nw_ecn", "nw_tos"), False, False),
    ("mac_rewrite", ("dl_dst", "dl_src"), False, False),
    ("mark_setter", ("pkt_mark",), False, False),
    ("nat44", ("nw_src",), False, False),
    ("vlan_push", ("unknown",), True, True),
    ("vlan_pop", ("unknown",), True, True),
    # Fields no bundled action writes, under either of OVS's names.
    ("proto", ("ip_proto",), True, False),
    ("proto", ("nw_proto",), True, False),
    ("eth_type", ("eth_type",), True, True),
    ("frag", ("ip_frag",), True, True),
    ("frag", ("nw_frag",), True, True),
    ("port", ("tp_dst",), False, False),
]


@pytest.mark.parametrize(("name", "fields", "before_ttl_rules", "before_any"), LAZY_PREDICTIONS)
def test_a_lazy_action_recirculates_only_before_a_table_that_examines_its_fields(
    name: str, fields: tuple[str, ...], before_ttl_rules: bool, before_any: bool
) -> None:
    lazy = _registered(name, "lazy", fields)
    at_64 = datapath.action_config(name, lazy, ProgramRun(ns=1.0, verdict="continue", ttl=64))
    assert (at_64.mode, at_64.ttl_after, at_64.reclassified) == ("lazy", 64, before_ttl_rules)
    assert at_64.passes == (2 if before_ttl_rules else 1)
    odd = datapath.action_config(name, lazy, ProgramRun(ns=1.0, verdict="continue", ttl=5))
    assert (odd.ttl_after, odd.reclassified) == (None, before_any)
    # yes and no do not depend on table 1.
    for ttl in (64, 5):
        run = ProgramRun(ns=1.0, verdict="continue", ttl=ttl)
        yes = datapath.action_config(name, _registered(name, "yes", fields), run)
        assert (yes.mode, yes.reclassified) == ("yes", True)
        no = datapath.action_config(name, _registered(name, "no"), run)
        assert (no.mode, no.reclassified) == ("no", False)


def test_a_wrong_lazy_prediction_stops_the_bench_at_the_flow_check() -> None:
    mac = _registered("mac_rewrite", "lazy", ("dl_dst", "dl_src"))
    c = datapath.action_config("mac_rewrite", mac, ProgramRun(ns=1.0, verdict="continue", ttl=64))
    one_pass = BPF_ONE_PASS_FLOW.replace("proto=17,", "proto=17,ttl=64,")
    datapath.check_flows(c, [one_pass], "mac_rewrite")
    # The switch recirculated after all: the bench says so rather than measure it.
    with pytest.raises(MeasurementError, match="a datapath flow recirculates"):
        datapath.check_flows(c, [BPF_RECIRC_FLOW, SECOND_PASS_FLOW.replace("63", "64")], "x")
    with pytest.raises(MeasurementError, match=r"no datapath flow recirculates"):
        datapath.check_flows(
            datapath.action_config("dec_ttl", DEC_TTL, ProgramRun(1.0, "continue", 63)),
            [one_pass],
            "dec_ttl",
        )
    with pytest.raises(MeasurementError, match="reclassify=maybe: this bench knows only"):
        datapath.action_config("x", _registered("x", "maybe"), ProgramRun(1.0, "continue", 64))


def test_an_action_that_drops_every_frame_has_one_pass_and_no_second_pass_flow() -> None:
    c = datapath.action_config("vlan_push", VLAN_PUSH, ProgramRun(ns=8.0, verdict="drop", ttl=64))
    assert (c.outcome, c.reclassified, c.passes, c.ttl_after) == ("drop", True, 1, 64)
    datapath.check_flows(c, [BPF_RECIRC_FLOW], "x")
    with pytest.raises(MeasurementError, match=r"ends every packet \(drop\), yet a datapath flow"):
        datapath.check_flows(c, [BPF_RECIRC_FLOW, SECOND_PASS_FLOW], "x")
    P = 2000
    sample = datapath.PmdSample(
        sent=P, pmd_packets=P, main_packets=0, recirculations=0, busy_cycles=P * 4000,
        median_cycles=3000.0, histogram_iterations=-(-P // 32), action_packets={"vlan_push": P},
        action_drops={"vlan_push": P}, action_errors={"vlan_push": 0},
    )  # fmt: skip
    datapath.check_pmd_round(c, sample)
    sample.action_drops = {"vlan_push": P - 1}
    with pytest.raises(MeasurementError, match="must drop every packet: 1999 drops, 0 errors"):
        datapath.check_pmd_round(c, sample)


def test_a_ttl_that_table_1_does_not_match_makes_it_forward_any_packet() -> None:
    odd = _registered("odd", "yes", ("nw_ttl",))
    c = datapath.action_config("odd", odd, ProgramRun(ns=1.0, verdict="continue", ttl=5))
    assert c.ttl_after is None and c.passes == 2
    assert datapath.flows(c)[1:] == ["table=1,priority=10,actions=output:2"]
    datapath.check_flows(c, [BPF_RECIRC_FLOW, SECOND_PASS_FLOW.replace("ttl=63,", "")], "x")


def _listed() -> dict[str, Registered]:
    """The registrations of the bench's configurations, as extframe register makes them."""
    return {
        "ro": _registered("ro", "no", runs_on="kernel"),
        "ro_rc": _registered("ro_rc", "yes", runs_on="kernel"),
        "ttl": _registered("ttl", "lazy", ("nw_ttl",)),
        "ttl_k": _registered(
            "ttl_k", "lazy", ("nw_ttl",), "kernel", "executor=kernel was asked for"
        ),
    }


def test_registrations_must_give_each_configuration_its_executor() -> None:
    listed = _listed()
    datapath.check_registered(listed, datapath.ALL_CONFIGS)
    listed["ttl"] = _registered(
        "ttl", "lazy", ("nw_ttl",), "kernel", "the registration gave no instructions"
    )
    with pytest.raises(
        MeasurementError,
        match=re.escape(
            "config (d) writer (dec_ttl), reclassify=lazy: ttl runs on kernel "
            "(the registration gave no instructions), expected inproc"
        ),
    ):
        datapath.check_registered(listed, datapath.ALL_CONFIGS)
    listed = _listed()
    listed["ttl_k"] = _registered("ttl_k", "lazy", ("nw_ttl",))
    with pytest.raises(MeasurementError, match="ttl_k runs on inproc, expected kernel"):
        datapath.check_registered(listed, datapath.ALL_CONFIGS)


@pytest.mark.parametrize(
    ("name", "registered", "message"),
    [
        # A switch or extframe from before lazy re-classification.
        ("ttl", _registered("ttl", "yes", ("nw_ttl",)),
         "config (d) writer (dec_ttl), reclassify=lazy: ttl is registered with reclassify=yes "
         "fields=nw_ttl, expected reclassify=lazy"),
        ("ttl_k", _registered("ttl_k", "no", runs_on="kernel"),
         "config (e) writer (dec_ttl), reclassify=lazy, executor=kernel: ttl_k is registered "
         "with reclassify=no, expected reclassify=lazy"),
        ("ro", _registered("ro", "lazy", ("unknown",), "kernel"),
         "config (b) read-only, reclassify=no (proved): ro is registered with reclassify=lazy "
         "fields=unknown, expected reclassify=no"),
        ("ro_rc", _registered("ro_rc", "no", runs_on="kernel"),
         "config (c) read-only, forced reclassify=yes: ro_rc is registered with reclassify=no, "
         "expected reclassify=yes"),
        # Lazy, but with fields that table 1 (any packet) always examines: (g) would recirculate.
        ("ttl", _registered("ttl", "lazy", ("unknown",)),
         "config (g) writer (dec_ttl), reclassify=lazy, table 1 matches any packet: ttl is "
         "registered with reclassify=lazy fields=unknown, so the datapath would recirculate "
         "after it where table 1 matches any packet; this configuration expects it not to"),
        ("ttl", _registered("ttl", "lazy", ("nw_tos",)),
         "ttl is registered with reclassify=lazy fields=nw_tos, so the datapath would not "
         "recirculate after it where table 1 matches udp and nw_ttl; this configuration "
         "expects it to"),
    ],
)  # fmt: skip
def test_registrations_must_have_the_mode_and_fields_each_configuration_needs(
    name: str, registered: Registered, message: str
) -> None:
    listed = _listed() | {name: registered}
    with pytest.raises(MeasurementError, match=re.escape(message)):
        datapath.check_registered(listed, datapath.ALL_CONFIGS)


def test_a_frame_ttl_is_read_behind_a_vlan_tag_and_only_from_ipv4_udp() -> None:
    frame = datapath.ipv4_udp_frame(1000)
    assert datapath.frame_ttl(frame) == 64
    tagged = frame[:12] + b"\x81\x00\x00\x0a" + frame[12:]
    assert datapath.frame_ttl(tagged) == 64
    assert datapath.frame_ttl(frame[:12] + b"\x08\x06" + frame[14:]) is None  # ARP
