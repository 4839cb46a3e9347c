"""Live progress for long runs, drawn so that it never garbles the program's own terminal output.

The program writes to the same terminal at any moment, so a redrawn status line
would interleave with it. Progress goes to the terminal title every second
(invisible to the output stream) and, from the tenth second on, as a whole
line on stderr at growing intervals. Nothing is read from the terminal, so a
``breakpoint()`` in the program keeps its stdin.

A terminal that has gone (a closed window or ssh session: every write fails with
EIO) or a reader that has left (EPIPE) silences diag's own output; it never ends
the run or costs the report.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO

from diagkit.render.units import fmt_bytes, fmt_s


class Progress:
    def __init__(self, stream: TextIO | None = None, first_line_after: float = 10.0) -> None:
        # sys.stderr is None when diag was started with descriptor 2 closed.
        self.stream = stream or sys.stderr
        try:
            self.enabled = self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            self.enabled = False
        self._next_line = first_line_after
        self._next_title = 1.0

    def tick(self, elapsed: float, rss: int) -> None:
        if not self.enabled:
            return
        text = f"diag: {fmt_s(elapsed)} elapsed, RSS {fmt_bytes(rss)}"
        parts = []
        if elapsed >= self._next_title:
            self._next_title = elapsed + 1.0
            parts.append(f"\x1b]2;{text}\x07")
        if elapsed >= self._next_line:
            self._next_line = elapsed * 2
            parts.append(f"\x1b[2m{text}\x1b[0m\n")
        if parts:
            self._write("".join(parts))

    def close(self) -> None:
        if self.enabled:
            self._write("\x1b]2;\x07")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
            drop_output()


def drop_output() -> None:
    """Point diag's stdout and stderr at /dev/null once the terminal or the reader is gone.

    What Python still holds in their buffers is then flushed there at exit, instead
    of failing again and turning diag's exit status into 120."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(null, stream.fileno())
    os.close(null)
