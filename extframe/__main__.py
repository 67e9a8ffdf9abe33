"""The ``extframe`` command, for ``python -m extframe`` and the console script.

Importing the CLI (scapy, pydantic, the analyzer) takes a few tenths of a
second; a Ctrl-C in that time must end the command like one later on: one
line and exit 130, never a traceback. A KeyboardInterrupt raised inside the
import of a compiled extension does not always stay one (pydantic_core's
Rust initialisation turns it into a panic, argparse's intermixed parsing
into an AttributeError), so Ctrl-C is only noted while the CLI is imported
and the command line parsed, and acted on once that is done.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

#: The exit status of a command stopped by SIGINT, as a shell reports it.
INTERRUPTED = 130


def run() -> int:
    """Run the command line; an interrupt at any moment is one line and exit 130."""
    interrupted: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        interrupted.append(signum)

    try:
        previous = signal.getsignal(signal.SIGINT)
        deferring = previous not in (signal.SIG_IGN, None)  # ignored from the start: stay so
        if deferring:
            signal.signal(signal.SIGINT, note)
        try:
            from extframe.cli import main, parse

            # argparse's intermixed parsing changes its actions and puts them
            # back in a finally: an interrupt inside it ends in another error.
            parsed = parse(sys.argv[1:])
        finally:
            if deferring:
                signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt
        return main(parsed=parsed)
    except KeyboardInterrupt:
        sys.stderr.write("extframe: interrupted\n")
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(run())
