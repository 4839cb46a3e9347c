"""Garbage collections and their pauses, per generation, from ``gc.callbacks``.

CPython calls each callback at the start and the stop of every collection, on the thread
that collects, with the GIL held: two calls of a few hundred nanoseconds beside a
collection that takes microseconds at least. Totals are kept per generation; the longest
pauses (the ones a reader acts on) are kept with their times, the first ``KEEP`` of them
over ``LONG_S``. Nothing is written until the program ends.

Standard library only: this runs inside the user's program.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Any

from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind

LONG_S = 0.005  # a pause of at least this long is kept with its time
KEEP = 200


class GcWatcher:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._counts = [0, 0, 0]
        self._pause_ns = [0, 0, 0]
        self._collected = [0, 0, 0]
        self._longest_ns = [0, 0, 0]
        self._long: list[list[int]] = []  # [start ns, generation, ns]
        self._started = 0
        self._installed = False

    def install(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._installed = True

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Exceptions here would be printed by the interpreter at the program's allocation;
        # the arithmetic below cannot raise on CPython's own info dict.
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        if not self._started:
            return  # installed during a collection
        ns = time.perf_counter_ns() - self._started
        self._started = 0
        g = min(2, max(0, int(info.get("generation", 0))))
        self._counts[g] += 1
        self._pause_ns[g] += ns
        self._collected[g] += int(info.get("collected", 0))
        self._longest_ns[g] = max(self._longest_ns[g], ns)
        if ns >= LONG_S * 1e9 and len(self._long) < KEEP:
            self._long.append([time.monotonic_ns() - ns, g, ns])

    def finish(self) -> None:
        if self._installed:
            # ValueError: the program cleared gc.callbacks, and nothing was counted after that
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(self._on_gc)
        self._channel.emit(
            EventKind.GC,
            counts=self._counts,
            pause_ns=self._pause_ns,
            collected=self._collected,
            longest_ns=self._longest_ns,
            long=self._long,
            enabled=gc.isenabled(),
        )
