"""Resident memory of the target and its descendants, sampled from outside by a thread in diag.

The kernel keeps each process's exact high-water mark (VmHWM, and ru_maxrss at
reaping), so the peak is exact even when a short spike falls between samples;
the timeline shows when memory grew. To keep long runs small the timeline is
halved (keeping each pair's larger point) and the interval doubled whenever it
reaches MAX_POINTS.
"""

from __future__ import annotations

import threading
import time

import psutil

from diagkit.report.model import MemorySection, RssPoint

MAX_POINTS = 4000


def _hwm_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    def __init__(self, pid: int, t0_ns: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.t0_ns = t0_ns
        self.interval = interval
        self.points: list[RssPoint] = []
        self.hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="diag-rss", daemon=True)
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._proc = None

    def start(self) -> None:
        if self._proc is not None:
            self._thread.start()

    def sample(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            rss = proc.memory_info().rss
            kids = 0
            for child in proc.children(recursive=True):
                try:
                    kids += child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            return
        self.hwm = max(self.hwm, _hwm_bytes(self.pid))
        t = (time.monotonic_ns() - self.t0_ns) / 1e9
        self.points.append(RssPoint(t=t, rss=rss, children_rss=kids))
        if len(self.points) >= MAX_POINTS:
            pairs = zip(self.points[0::2], self.points[1::2], strict=False)
            self.points = [max(a, b, key=lambda p: p.rss + p.children_rss) for a, b in pairs]
            self.interval *= 2

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def section(self, maxrss_at_exit: int = 0) -> MemorySection:
        pts = self.points
        sec = MemorySection(interval_s=self.interval, timeline=pts)
        if not pts and not maxrss_at_exit:
            sec.available = False
            sec.unavailable_reason = "the target ended before its memory could be read"
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
        # When the exact peak fell between samples, the nearest-larger sample marks when.
        sec.peak_t = best.t if best else 0.0
        sec.final_rss = pts[-1].rss if pts else 0
        return sec
