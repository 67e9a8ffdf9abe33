"""A kernel or OVS test that skips must fail when CI=true (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parent.parent / "conftest.py").read_text()
TESTS = """
import pytest

@pytest.mark.kernel
def test_needs_kernel():
    pytest.skip("pretend there is no bpf() here")

@pytest.mark.ovs
def test_needs_ovs():
    pytest.skip("pretend there is no ovs-vswitchd here")

def test_plain_skip():
    pytest.skip("an ordinary skip stays a skip")
"""
INI = """
[pytest]
markers =
    kernel: k
    ovs: o
"""


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 2, 1), ("", 0, 3)])
def test_privileged_skips_fail_only_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_privileged=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=failed, skipped=skipped)
    if failed:
        result.stdout.fnmatch_lines(["*was skipped in CI (CI=true), where it must run*"])
