"""Live progress for long runs, drawn so that it never garbles the program's own terminal output.

The program writes to the same terminal at any moment, so a redrawn status line
would interleave with it. Progress goes to the terminal title every second
(invisible to the output stream) and, from the tenth second on, as a whole
line on stderr at growing intervals. Nothing is read from the terminal, so a
``breakpoint()`` in the program keeps its stdin.
"""

from __future__ import annotations

import sys
from typing import TextIO

from diagkit.report.units import fmt_bytes, fmt_s


class Progress:
    def __init__(self, stream: TextIO | None = None, first_line_after: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._next_line = first_line_after
        self._next_title = 1.0

    def tick(self, elapsed: float, rss: int) -> None:
        if not self.enabled:
            return
        text = f"diag: {fmt_s(elapsed)} elapsed, RSS {fmt_bytes(rss)}"
        if elapsed >= self._next_title:
            self._next_title = elapsed + 1.0
            self.stream.write(f"\x1b]2;{text}\x07")
        if elapsed >= self._next_line:
            self._next_line = elapsed * 2
            self.stream.write(f"\x1b[2m{text}\x1b[0m\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\x1b]2;\x07")
            self.stream.flush()
