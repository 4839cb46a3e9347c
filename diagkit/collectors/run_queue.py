"""Each thread's time on a core and time runnable but waiting for one, from /proc/TID/schedstat.

The kernel counts both in nanoseconds for every thread, so the sum over a program's threads
says directly whether it asked for more cores than it had (the waiting grows with the
threads beyond the cores) and, per thread, how much of the time a sample saw it in Python
it was really running (a thread waiting for the GIL is sampled in Python but runs nothing).
The counters are cumulative: a thread's last reading stands for its whole life, so a
thread that ended between two readings loses at most one interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

READ_EVERY_S = 0.25  # a read is one small file per thread: 40 threads cost ~0.3 ms


@dataclass
class ThreadSched:
    pid: int
    cpu_ns: int
    wait_ns: int


class RunQueue:
    """The latest schedstat of every thread seen, less the first reading when attached."""

    def __init__(self, from_zero: bool = True) -> None:
        self.from_zero = from_zero  # launched: the threads' whole lives are the program's
        self.latest: dict[int, ThreadSched] = {}
        self.first: dict[int, ThreadSched] = {}
        self._last_read = 0.0

    def due(self) -> bool:
        return time.monotonic() - self._last_read >= READ_EVERY_S

    def read(self, groups: list[tuple[int, list[str]]]) -> None:
        """``groups``: each process's pid and the native ids of its threads."""
        self._last_read = time.monotonic()
        for pid, tids in groups:
            for tid in tids:
                got = _schedstat(tid)
                if got is None:
                    continue
                now = ThreadSched(pid, *got)
                if not self.from_zero and int(tid) not in self.first:
                    self.first[int(tid)] = now
                self.latest[int(tid)] = now

    def threads(self) -> dict[int, ThreadSched]:
        """Each thread's seconds on a core and waiting for one since diag began to count."""
        out = {}
        for tid, now in self.latest.items():
            base = self.first.get(tid)
            if base is None:
                out[tid] = now
            else:
                out[tid] = ThreadSched(
                    now.pid, now.cpu_ns - base.cpu_ns, now.wait_ns - base.wait_ns
                )
        return out


def _schedstat(tid: str) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{tid}/schedstat", "rb") as fh:
            cpu, wait, _slices = fh.read().split()
        return int(cpu), int(wait)
    except (OSError, ValueError):
        return None  # gone, or a kernel without schedstats
