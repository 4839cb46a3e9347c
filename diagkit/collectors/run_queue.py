"""Each thread's time on a core and time runnable but waiting for one, from /proc/TID/schedstat.

The kernel counts both in nanoseconds for every thread, and how often it put the thread on
a core, so the sum over a program's threads says directly whether it asked for more cores
than it had (the waiting grows with the threads beyond the cores) and, per thread, how much
of the time a sample saw it in Python it was really running (a thread waiting for the GIL
is sampled in Python but runs nothing; one blocked in a C call is not even put on a core).
The counters are cumulative: a thread's last reading stands for its whole life, so a
thread that ended between two readings loses at most one interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

READ_EVERY_S = 0.25  # a read is one small file per thread: 41 threads cost ~0.2 ms
OFF_CORE_CPU = 0.01  # of the time between a thread's first and last reading: it ran less
OFF_CORE_RUNS_PER_S = 5  # and was put on a core less often than this: it was blocked
OFF_CORE_SPAN = 0.5  # of the window, those readings at least apart


@dataclass
class ThreadSched:
    pid: int
    cpu_ns: int
    wait_ns: int
    runs: int = 0  # times the kernel put it on a core


class RunQueue:
    """The first and latest schedstat of every thread seen."""

    def __init__(self, from_zero: bool = True) -> None:
        # Launched: the threads' whole lives are the program's; attached: from the first read.
        self.from_zero = from_zero
        self.latest: dict[int, ThreadSched] = {}
        self.first: dict[int, ThreadSched] = {}
        self.seen: dict[int, tuple[float, float]] = {}  # first and last reading's time
        self._last_read = 0.0

    def due(self) -> bool:
        return time.monotonic() - self._last_read >= READ_EVERY_S

    def read(self, groups: list[tuple[int, list[str]]]) -> None:
        """``groups``: each process's pid and the native ids of its threads."""
        now_t = self._last_read = time.monotonic()
        for pid, tids in groups:
            for tid in tids:
                got = _schedstat(tid)
                if got is None:
                    continue
                now, key = ThreadSched(pid, *got), int(tid)
                self.first.setdefault(key, now)
                self.latest[key] = now
                self.seen[key] = (self.seen.get(key, (now_t, now_t))[0], now_t)

    def threads(self) -> dict[int, ThreadSched]:
        """Each thread's seconds on a core and waiting for one since diag began to count."""
        if self.from_zero:
            return dict(self.latest)
        return {tid: _less(now, self.first[tid]) for tid, now in self.latest.items()}

    def blocked(self, window_s: float) -> frozenset[int]:
        """Threads the kernel kept off the cores while diag watched them, over most of the
        window: blocked in a call (a pipe's read, a socket, a C library's wait) whatever
        Python line their stacks show."""
        out = set()
        for tid, now in self.latest.items():
            t0, t1 = self.seen[tid]
            span = t1 - t0
            if window_s <= 0 or span < OFF_CORE_SPAN * window_s:
                continue
            d = _less(now, self.first[tid])
            if d.cpu_ns / 1e9 < OFF_CORE_CPU * span and d.runs < OFF_CORE_RUNS_PER_S * span:
                out.add(tid)
        return frozenset(out)


def _less(now: ThreadSched, base: ThreadSched) -> ThreadSched:
    return ThreadSched(
        now.pid, now.cpu_ns - base.cpu_ns, now.wait_ns - base.wait_ns, now.runs - base.runs
    )


def _schedstat(tid: str) -> tuple[int, int, int] | None:
    try:
        with open(f"/proc/{tid}/schedstat", "rb") as fh:
            cpu, wait, runs = fh.read().split()
        return int(cpu), int(wait), int(runs)
    except (OSError, ValueError):
        return None  # gone, or a kernel without schedstats
