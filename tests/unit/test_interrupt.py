"""Ctrl-C at any moment of a command: one line and exit 130, never a traceback.

The command (a static check of syn_guard, about 10 s) is still running at
every delay, from start-up through the imports into the analysis.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONSOLE_SCRIPT = Path(sys.executable).with_name("extframe")


# From 0.2 s: earlier, Python may still be starting (site, .pth files), where
# no program of its own runs yet. Close steps through the imports: an
# interrupt inside pydantic_core's initialisation once became a Rust panic.
@pytest.mark.parametrize("delay_s", [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.9])
@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-m", "extframe", "check", "--no-kernel", "actions/syn_guard.c"],
        [str(CONSOLE_SCRIPT), "check", "--no-kernel", "actions/syn_guard.c"],
    ],
    ids=["python -m", "console script"],
)
def test_an_interrupt_is_one_line_and_exit_130(argv: list[str], delay_s: float) -> None:
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    # Before Python sets up its handler the default action ends the process:
    # the shell reports that as 130 too.
    assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1].startswith("extframe: interrupted"), err
