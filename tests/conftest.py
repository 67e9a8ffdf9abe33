"""Test set-up shared by every suite.

Tests marked ``kernel`` need the real bpf() syscall, tests marked ``ovs`` the
patched ovs-vswitchd. Where those are missing they are skipped, except in CI
(``CI=true``), where such a skip is turned into a failure: a green CI run
proves that the kernel and OVS tests ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.effects import ProgramEffects
from extframe.errors import ExtframeError, VerifierError

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ROOT / "actions"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NEEDS_PRIVILEGE = ("kernel", "ovs")


def _kernel_missing() -> str | None:
    from extframe.kernel.libbpf import kernel_can_load

    return kernel_can_load()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if any(item.get_closest_marker("kernel") for item in items):
        reason = _kernel_missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no kernel BPF here: {reason}")
    for item in items:
        if item.get_closest_marker("kernel"):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in NEEDS_PRIVILEGE):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped in CI (CI=true), where it must run: " + str(
            report.longrepr
        )


@pytest.fixture
def bpffs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private folder inside the real bpffs; checked empty and removed after."""
    mount = Path("/sys/fs/bpf") / f"extframe_test_{os.getpid()}_{tmp_path.name}"
    mount.mkdir()
    monkeypatch.setenv("EXTFRAME_BPFFS", str(mount))
    yield mount / "extframe"
    shutil.rmtree(mount, ignore_errors=True)


@dataclass(frozen=True)
class Outcome:
    """What ``extframe check`` made of one program: its effects, or why there are none.

    ``error`` is the ``VerifierError`` of a rejection (``.summary.reason``,
    ``.log``), or another ``ExtframeError`` (a build that failed).
    """

    name: str
    effects: ProgramEffects | None = None
    error: ExtframeError | None = None

    @property
    def rejected(self) -> VerifierError | None:
        return self.error if isinstance(self.error, VerifierError) else None


def outcome_of(src: Path) -> Outcome:
    """``check_file(src)`` of a one-program source, kept whatever the kernel said."""
    from extframe.check import check_file

    try:
        checked = check_file(src)
    except ExtframeError as e:
        return Outcome(src.stem, error=e)
    if checked.rejected is not None:
        return Outcome(src.stem, error=checked.rejected)
    (analysis,) = checked.analyses
    return Outcome(src.stem, effects=analysis.effects)


class Outcomes(Mapping[str, ProgramEffects]):
    """Programs' effects by name, for fixtures shared by many tests.

    One program the kernel refused fails only the tests that ask for its
    effects (``outcomes[name]``), with the verifier's reason; the others
    never see it. ``rejection(name)`` is for tests that expect a refusal.
    """

    def __init__(self, outcomes: Mapping[str, Outcome]) -> None:
        self._outcomes = dict(outcomes)

    def __getitem__(self, name: str) -> ProgramEffects:
        outcome = self._outcomes[name]
        if outcome.effects is None:
            assert outcome.error is not None
            pytest.fail(f"{name} has no effects to test: {outcome.error.message}", pytrace=False)
        return outcome.effects

    def __contains__(self, name: object) -> bool:
        return name in self._outcomes  # without asking for the effects

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def rejection(self, name: str) -> VerifierError | None:
        """The verifier's rejection of ``name``; None where it was accepted."""
        return self._outcomes[name].rejected

    def outcome(self, name: str) -> Outcome:
        return self._outcomes[name]


@pytest.fixture(scope="session")
def action_effects() -> Outcomes:
    """``extframe check`` of every bundled action, by name: done once for all tests."""
    return Outcomes({src.stem: outcome_of(src) for src in sorted(ACTIONS.glob("*.c"))})


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objects")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``extframe`` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "extframe", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


@dataclass(frozen=True)
class User:
    """A real unprivileged user, for tests of what another user can do to extframe."""

    name: str
    uid: int
    gid: int

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as this user (its own uid, gid and no other groups)."""
        return subprocess.run(
            list(argv),
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


@pytest.fixture
def intruder() -> Iterator[User]:
    """An unprivileged system user created for the test and removed after it."""
    import pwd

    name = f"eftest{os.getpid()}"
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home",
         "--shell", "/usr/sbin/nologin", name],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        entry = pwd.getpwnam(name)
        yield User(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=60)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The precision of field naming over the crafted programs, when they ran."""
    for module in list(sys.modules.values()):
        seen = getattr(module, "FIELD_PRECISION", None)
        if seen and isinstance(seen, dict):
            over = {n: o for n, (_, o) in seen.items() if o}
            terminalreporter.write_line(
                f"field precision: {len(seen) - len(over)} of {len(seen)} crafted programs "
                f"named exactly; {sum(over.values())} fields over-named in "
                + ", ".join(f"{n} ({o})" for n, o in sorted(over.items()))
            )
            return
