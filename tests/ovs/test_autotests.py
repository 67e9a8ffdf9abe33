"""The patch series' own autotests (tests/bpf-action.at), in the built tree.

They drive ovs-vswitchd with netdev-dummy ports and real programs pinned in
bpffs; here they run as part of the project's suite so that CI runs them.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.ovs.conftest import ovs_build

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]


def test_bpf_action_autotests_pass() -> None:
    build = ovs_build()
    if build is None:
        pytest.skip("the patched OVS is not built: run ovs_patches/build.sh")
    src = build / "src"
    done = subprocess.run(
        [
            "bash",
            "tests/testsuite",
            "-C",
            "tests",
            "AUTOTEST_PATH=utilities:vswitchd:ovsdb:vtep:tests:ipsec:",
            "-j4",
            "-k",
            "bpf",
        ],
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-12:]
    assert done.returncode == 0, "\n".join(summary)
    ran = [ln for ln in done.stdout.splitlines() if ": bpf action - " in ln]
    assert len(ran) >= 19 and all(ln.rstrip().endswith(" ok") for ln in ran), "\n".join(ran)
