"""RSS before and after each line of the named functions (``--memory-lines``).

This is memory_profiler's method (the resident set size read around every line)
without its arithmetic: memory_profiler 0.61 subtracts the highest RSS ever seen
on the previous line number rather than the RSS when this line began, and shares
one table between a function and its comprehensions, which is where its
negative increments on comprehensions come from. Here each execution of a line
adds (RSS after it) - (RSS before it) in its own frame; a comprehension is not
traced on its own, so what it allocates lands on the line that runs it. RSS
comes from /proc/self/statm, a few microseconds a read.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryLines:
    def __init__(self) -> None:
        self.stats: dict[types.CodeType, dict[int, list[int]]] = {}  # line -> [inc, peak, hits]
        self._fd = -1

    def add(self, code: types.CodeType) -> None:
        self.stats.setdefault(code, {})

    def rss(self) -> int:
        try:
            return int(os.pread(self._fd, 64, 0).split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def enable(self) -> None:
        self._fd = os.open("/proc/self/statm", os.O_RDONLY)
        sys.settrace(self._on_call)

    def disable(self) -> None:
        sys.settrace(None)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _on_call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        table = self.stats.get(frame.f_code)
        if table is None or event != "call":
            return None
        rss = self.rss
        state = [0, 0]  # the line running now (0: none yet), RSS when it began

        def on_event(frame: types.FrameType, event: str, arg: Any) -> Any:
            if event not in ("line", "return"):
                return on_event
            now = rss()
            if state[0]:
                rec = table.get(state[0])
                if rec is None:
                    rec = table[state[0]] = [0, 0, 0]
                rec[0] += now - state[1]
                rec[1] = max(rec[1], now)
                rec[2] += 1
            state[0] = frame.f_lineno if event == "line" else 0
            state[1] = now
            return on_event

        return on_event
