"""Host timings of ``diagkit.range`` stages, installed as ``diagkit._runtime.recorder``."""

from __future__ import annotations

import threading
import time

from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind

MAX_EVENTS = 20_000
# Stage ranges are few: each is written as it closes, so a SIGKILL loses none.
# Past this many, a range is in a hot loop and events go out in batches.
_UNBATCHED = 1_000
_BATCH = 500


class RangeRecorder:
    """Keeps a per-thread stack of open ranges; whole-run stats always, single events up to a cap."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pending: list[list[object]] = []
        self._kept = 0
        self.dropped = 0
        self.stats: dict[str, list[float]] = {}  # name -> [count, total, min, max] in ns
        self._stacks: dict[int, list[tuple[str, int]]] = {}

    # Both are called from the program's code: a failure here is recorded, never raised into it.
    def push(self, name: str) -> None:
        try:
            stack = self._local.__dict__.get("stack")
            if stack is None:
                stack = self._local.stack = []
                # Registered so that finish() can report ranges still open on any thread.
                self._stacks[threading.get_ident()] = stack
            stack.append((name, time.monotonic_ns()))
        except Exception as exc:
            self._channel.collector_failed("ranges", exc)

    def pop(self, name: str) -> None:
        try:
            self._pop(time.monotonic_ns())
        except Exception as exc:
            self._channel.collector_failed("ranges", exc)

    def _pop(self, end: int) -> None:
        stack = self._local.__dict__.get("stack")
        if not stack:
            return
        opened, start = stack.pop()
        dur = end - start
        with self._lock:
            st = self.stats.get(opened)
            if st is None:
                self.stats[opened] = [1, dur, dur, dur]
            else:
                st[0] += 1
                st[1] += dur
                st[2] = min(st[2], dur)
                st[3] = max(st[3], dur)
            if self._kept < MAX_EVENTS:
                self._kept += 1
                self._pending.append([opened, start, end, threading.get_ident(), len(stack)])
                if self._kept <= _UNBATCHED or len(self._pending) >= _BATCH:
                    self._flush_locked()
            else:
                self.dropped += 1

    def _flush_locked(self) -> None:
        if self._pending:
            self._channel.emit(EventKind.RANGES, events=self._pending)
            self._pending = []

    def finish(self) -> None:
        """Flush, and record the ranges still open (the program was stopped inside them)."""
        now = time.monotonic_ns()
        with self._lock:
            for tid, stack in list(self._stacks.items()):
                for depth, (name, start) in enumerate(list(stack)):
                    self._pending.append([name, start, now, tid, depth, True])
            self._flush_locked()
            self._channel.emit(EventKind.RANGE_STATS, stats=self.stats, dropped=self.dropped)
