"""The patch series' own autotests (tests/bpf-action.at and the tests it adds to
OVS's own files), in the built tree.

They drive ovs-vswitchd with netdev-dummy ports and real programs pinned in
bpffs; here they run as part of the project's suite so that CI runs them.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.ovs.conftest import ovs_build

pytestmark = [pytest.mark.ovs, pytest.mark.kernel]


def _testsuite(*keywords: str) -> subprocess.CompletedProcess[str]:
    """The built tree's OVS testsuite, the tests matching any of ``keywords``."""
    build = ovs_build()
    if build is None:
        pytest.skip("the patched OVS is not built: run ovs_patches/build.sh")
    return subprocess.run(
        [
            "bash",
            "tests/testsuite",
            "-C",
            "tests",
            "AUTOTEST_PATH=utilities:vswitchd:ovsdb:vtep:tests:ipsec:",
            "-j4",
            *(arg for k in keywords for arg in ("-k", k)),
        ],
        cwd=build / "src",
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_bpf_action_autotests_pass() -> None:
    done = _testsuite("bpf")
    summary = done.stdout.strip().splitlines()[-12:]
    assert done.returncode == 0, "\n".join(summary)
    ran = [ln for ln in done.stdout.splitlines() if ": bpf action - " in ln]
    assert len(ran) >= 19 and all(ln.rstrip().endswith(" ok") for ln in ran), "\n".join(ran)


def test_the_series_autotests_of_netdev_dummy_and_the_classifier_pass() -> None:
    """Patch 0016's ``netdev-dummy/receive --repeat`` (the benchmark feeds its PMD
    rounds with it) and patch 0018's ``classifier_may_examine()`` by version."""
    done = _testsuite("netdev-dummy/receive", "may examine")
    summary = done.stdout.strip().splitlines()[-12:]
    assert done.returncode == 0, "\n".join(summary)
    ran = [ln for ln in done.stdout.splitlines() if re.search(r"^ *\d+: ", ln)]
    titles = ("netdev-dummy/receive --repeat", "flow classifier - may examine")
    for title in titles:
        mine = [ln for ln in ran if title in ln]
        assert len(mine) == 1 and mine[0].rstrip().endswith(" ok"), "\n".join(ran)
