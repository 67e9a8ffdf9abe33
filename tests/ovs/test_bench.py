"""``python -m bench datapath`` on a private sandbox: one short round of each configuration.

No timing is asserted (bench/README.md): the round must pass the
benchmark's own checks (configuration (b) runs the action without
recirculation, (c) and (d) recirculate, every packet arrives; on the
dummy-pmd switch, a PMD thread and not the main thread took every packet)
and the tables must show the four configurations, PMD cycles included.
"""

from __future__ import annotations

import shutil

import pytest

from bench import datapath
from extframe.ovs.sandbox import Sandbox

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]


def test_one_round_of_each_configuration_is_measured_and_checked(sandbox: Sandbox) -> None:
    if shutil.which("trafgen") is None:
        pytest.skip("trafgen is not installed (Debian's netsniff-ng; make setup installs it)")
    samples = datapath.measure(sandbox, rounds=1, seconds=0.5, pmd_packets=2000)
    assert [s.config for s in samples] == ["a", "b", "c", "d"]
    by = {s.config: s for s in samples}
    assert by["b"].recirculations == 0 and by["b"].action_packets["ro"] > 0
    assert by["c"].recirculations > 0 and by["d"].recirculations > 0
    assert all(s.delivered > 0 and s.cpu_ns > 0 for s in samples)
    pmd = {s.config: s.pmd for s in samples if s.pmd is not None}
    assert sorted(pmd) == ["a", "b", "c", "d"]
    for key, p in pmd.items():
        assert p.pmd_packets == p.sent == 2000 and p.main_packets == 0
        assert p.busy_cycles > 0 and p.histogram_packets == 2000
        assert p.recirculations == (2000 if key in "cd" else 0)
    assert pmd["b"].action_packets["ro"] == 2000 and pmd["d"].action_packets["ttl"] == 2000
    assert not (sandbox.run_dir.parent / "pmd-switch" / "ovs-vswitchd.pid").exists()
    lines = datapath.table(
        datapath.summarize(samples), 1, 0.5, {"port_counter": 1.0, "dec_ttl": 1.0}, 2100.0, 2000
    )
    text = "\n".join(lines)
    for c in datapath.CONFIGS:
        assert text.count(f"| ({c.key}) | {c.label} |") == 2  # the veth table and the PMD one
    assert "PMD cycles/pkt" in text and "2000 packets a round" in text
    assert "(c)/(b)" in text and "(b)/(a)" in text
