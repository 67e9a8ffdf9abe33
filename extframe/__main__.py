"""The ``extframe`` command, for ``python -m extframe`` and the console script.

Importing the CLI (scapy, pydantic, the analyzer) takes a few tenths of a
second; a Ctrl-C in that time must end the command like one later on: one
line and exit 130, never a traceback. So the entry point is here, in a
module that imports nothing heavy before it can catch the interrupt.
"""

from __future__ import annotations

import sys

#: The exit status of a command stopped by SIGINT, as a shell reports it.
INTERRUPTED = 130


def run() -> int:
    """Run the command line; an interrupt at any moment is one line and exit 130."""
    try:
        from extframe.cli import main

        return main()
    except KeyboardInterrupt:
        sys.stderr.write("extframe: interrupted\n")
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(run())
