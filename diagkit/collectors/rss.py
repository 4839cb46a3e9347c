"""Resident memory of the target and its descendants, sampled from outside by a thread in diag.

The kernel keeps each process's exact high-water mark (VmHWM, and ru_maxrss at
reaping), so the peak is exact even when a short spike falls between samples;
the timeline shows when memory grew. To keep long runs small the timeline is
halved (keeping each pair's larger point) and the interval doubled whenever it
reaches MAX_POINTS.
"""

from __future__ import annotations

import os
import threading
import time

from diagkit.collectors.run_queue import RunQueue
from diagkit.collectors.thread_ends import ThreadEnds
from diagkit.collectors.threads import REFUSED, start_daemon
from diagkit.model.report import MemorySection, RssPoint

MAX_POINTS = 4000


def status_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from one read of /proc/PID/status; (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, hwm


def _tasks(pid: int) -> list[str]:
    """The native ids of a process's threads, as /proc names them; [] once it is gone."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def _children(pid: int, tasks: list[str]) -> list[int]:
    """Direct children, from each thread's /proc children list (no scan of every process)."""
    kids: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                kids.extend(int(k) for k in fh.read().split())
        except (OSError, ValueError):
            continue
    return kids


def _descendants(
    pid: int, tasks: list[str], skip: frozenset[int] = frozenset()
) -> list[tuple[int, list[str]]]:
    """Every descendant of ``pid`` (whose threads are ``tasks``) with its threads, less the
    processes in ``skip`` and theirs."""
    out, todo = [], _children(pid, tasks)
    while todo:
        kid = todo.pop()
        if kid in skip:
            continue
        kid_tasks = _tasks(kid)
        out.append((kid, kid_tasks))
        todo.extend(_children(kid, kid_tasks))
    return out


class RssSampler:
    def __init__(
        self,
        pid: int,
        t0_ns: int,
        interval: float = 0.02,
        threads: ThreadEnds | None = None,
        run_queue: RunQueue | None = None,
        skip: frozenset[int] = frozenset(),
    ) -> None:
        self.pid = pid
        self.threads = threads  # told which threads each read found alive
        self.run_queue = run_queue  # reads every thread's CPU and run-queue wait, less often
        # diag itself where the target is its parent (a process that profiles itself)
        self.skip = skip
        self.t0_ns = t0_ns
        self.interval = interval
        self.points: list[RssPoint] = []
        self.hwm = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem = ""  # why there is no timeline, where diag could not sample
        self.peak_threads = self.peak_processes = 0  # of the target and its descendants

    def start(self) -> None:
        self._thread = start_daemon(self._loop, "diag-rss")
        if self._thread is None:
            # The kernel's high-water mark at reaping still gives the exact peak.
            self.problem = f"no timeline: {REFUSED}"

    def sample(self) -> None:
        # Runs every interval on a machine whose cores the target is using: /proc is read
        # directly (psutil's recursive children() scans every process, ~1.4 ms a call).
        groups = self._groups()
        tasks = groups[0][1]
        descendants = [pid for pid, _ in groups[1:]]
        every = [t for _, ts in groups for t in ts]
        if self.threads is not None:
            # Before the check below: a process that is gone has ended all its threads.
            self.threads.saw(map(int, every), time.monotonic())
        if tasks:
            self.peak_threads = max(self.peak_threads, len(every))
            self.peak_processes = max(self.peak_processes, len(groups))
        if self.run_queue is not None and self.run_queue.due():
            self.run_queue.read(groups)
        rss_kb, hwm_kb = status_kb(self.pid)
        if not rss_kb and not hwm_kb:
            return
        kids = sum(status_kb(k)[0] for k in descendants)
        self.hwm = max(self.hwm, hwm_kb * 1024)
        t = (time.monotonic_ns() - self.t0_ns) / 1e9
        self.points.append(RssPoint(t=t, rss=rss_kb * 1024, children_rss=kids * 1024))
        if len(self.points) >= MAX_POINTS:
            pairs = zip(self.points[0::2], self.points[1::2], strict=False)
            self.points = [max(a, b, key=lambda p: p.rss + p.children_rss) for a, b in pairs]
            self.interval *= 2

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2.0)
        if self.threads is None and self.run_queue is None:
            return
        groups = self._groups()
        if self.threads is not None:
            # The loop may have last looked before the target ended: one more look sees it gone.
            self.threads.saw((int(t) for _, ts in groups for t in ts), time.monotonic())
        if self.run_queue is not None:  # the window's end: a short one has a span to judge by
            self.run_queue.read(groups)

    def _groups(self) -> list[tuple[int, list[str]]]:
        """The target and each of its descendants (less ``skip``), with their threads."""
        tasks = _tasks(self.pid)
        return [(self.pid, tasks), *_descendants(self.pid, tasks, self.skip)]

    def section(self, maxrss_at_exit: int = 0) -> MemorySection:
        pts = self.points
        sec = MemorySection(interval_s=self.interval, timeline=pts)
        if not pts and not maxrss_at_exit:
            sec.available = False
            sec.unavailable_reason = (
                self.problem or "the target ended before its memory could be read"
            )
            return sec
        best = max(pts, key=lambda p: p.rss + p.children_rss) if pts else None
        sampled_peak = best.rss + best.children_rss if best else 0
        exact = max(self.hwm, maxrss_at_exit)
        if exact >= sampled_peak:
            sec.peak_rss = exact
            sec.peak_source = "kernel high-water mark of the target process (exact)"
        else:
            sec.peak_rss = sampled_peak
            sec.peak_source = "largest sampled total of the target and its children"
        if self.problem:
            sec.peak_source += f"; {self.problem}"
        # When the exact peak fell between samples, the nearest-larger sample marks when.
        sec.peak_t = best.t if best else 0.0
        sec.final_rss = pts[-1].rss if pts else 0
        return sec
