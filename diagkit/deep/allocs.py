"""In-process collector of the memory pass: tracemalloc, with the live heap taken near its peak.

tracemalloc knows its exact peak but keeps no snapshot of it, so a watcher
thread reads the traced total every few milliseconds and takes a snapshot each
time the total passes the last snapshot by a margin. A snapshot costs time in
proportion to the live blocks, hence the margin; a peak shorter than the poll
interval is seen in ``traced_peak`` but its sites come from the nearest
snapshot, and the report says how close that was.

Blocks are grouped by their whole traceback here, in the target, and only the
groups leave the process: the parent finds each group's first line outside the
libraries (``np.ones`` allocates inside numpy; the user's line is the caller).
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from diagkit.deep.config import DeepConfig, redirect_output
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind

POLL_S = 0.005
GROWTH = 1.2  # a new snapshot once the traced total is 20% above the last one
MIN_BYTES = 8 << 20
BIG_STEP = 64 << 20
MAX_GROUPS = 400


class PeakWatcher:
    def __init__(self) -> None:
        self.best = 0  # traced total at the kept snapshot
        self.best_t = 0
        self.groups: list[list[Any]] = []  # [frames (innermost first), bytes, count]
        self.largest: list[Any] = [[], 0]
        self.stack: list[list[Any]] = []  # the main thread's stack at the kept snapshot
        # Snapshots of a heap growing by small steps may take at most a tenth of the run;
        # a large doubling is always taken, since that is what a large array looks like.
        self._not_before = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="diag-tracemalloc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._not_before = 0
        self.check()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.check()

    def check(self) -> None:
        with self._lock:
            if not tracemalloc.is_tracing():
                return
            current = tracemalloc.get_traced_memory()[0]
            t = time.monotonic_ns()
            if current < max(MIN_BYTES, self.best * GROWTH):
                return
            big_step = current >= 2 * self.best and current - self.best >= BIG_STEP
            if t < self._not_before and not big_step:
                return
            self._keep(tracemalloc.take_snapshot(), t, _main_stack())
            self._not_before = time.monotonic_ns() + 9 * (time.monotonic_ns() - t)

    def _keep(self, snap: tracemalloc.Snapshot, t: int, stack: list[list[Any]]) -> None:
        by_tb: dict[Any, list[int]] = {}
        total = 0
        largest: tuple[int, Any] = (0, ())
        # The raw (domain, size, frames, nframe) tuples: Trace objects would cost a
        # Python object per block on heaps of millions of blocks.
        raw = getattr(snap.traces, "_traces", None)
        rows = (
            raw
            if raw is not None
            else [(0, tr.size, tr.traceback._frames, 0) for tr in snap.traces]  # type: ignore[attr-defined]
        )
        for row in rows:
            size, frames = row[1], row[2]
            total += size
            rec = by_tb.get(frames)
            if rec is None:
                by_tb[frames] = [size, 1]
            else:
                rec[0] += size
                rec[1] += 1
            if size > largest[0]:
                largest = (size, frames)
        if total <= self.best:
            return
        self.best, self.best_t = total, t
        top = sorted(by_tb.items(), key=lambda kv: -kv[1][0])[:MAX_GROUPS]
        self.groups = [[[list(f) for f in frames], b, c] for frames, (b, c) in top]
        self.largest = [[list(f) for f in largest[1]], largest[0]]
        self.stack = stack


def _main_stack() -> list[list[Any]]:
    """[file, line, co_name] of the main thread's frames, outermost first.

    tracemalloc keeps only the innermost frames of each block (each frame costs time
    on every allocation); the parent completes the largest block's traceback from
    this stack when the function that allocated it is still running.
    """
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    out = []
    while frame is not None:
        out.append([frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name])
        frame = frame.f_back
    return out[::-1]


def start(channel: Channel) -> Callable[[], None]:
    cfg = DeepConfig.from_env()
    redirect_output(cfg.log)
    frames = max(1, cfg.frames)
    tracemalloc.start(frames)
    watcher = PeakWatcher()
    watcher.start()

    def finish() -> None:
        watcher.stop()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        channel.emit(
            EventKind.DEEP_ALLOC,
            frames=frames,
            peak=peak,
            snapshot_bytes=watcher.best,
            snapshot_t=watcher.best_t,
            groups=watcher.groups,
            largest=watcher.largest,
            stack=watcher.stack,
        )

    return finish
