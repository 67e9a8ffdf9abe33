"""``python -m bench datapath`` on a private sandbox: one short round of each configuration.

No timing is asserted (bench/README.md): the round must pass the
benchmark's own checks (configuration (b) runs the action without
recirculation, (c) and (d) recirculate, every packet arrives) and the table
must show the four configurations.
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
    samples = datapath.measure(sandbox, rounds=1, seconds=0.5)
    assert [s.config for s in samples] == ["a", "b", "c", "d"]
    by = {s.config: s for s in samples}
    assert by["b"].recirculations == 0 and by["b"].action_packets["ro"] > 0
    assert by["c"].recirculations > 0 and by["d"].recirculations > 0
    assert all(s.delivered > 0 and s.cpu_ns > 0 for s in samples)
    lines = datapath.table(
        datapath.summarize(samples), 1, 0.5, {"port_counter": 1.0, "dec_ttl": 1.0}, None
    )
    text = "\n".join(lines)
    for c in datapath.CONFIGS:
        assert f"| ({c.key}) | {c.label} |" in text
    assert "(c)/(b)" in text and "(b)/(a)" in text
