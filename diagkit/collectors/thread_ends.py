"""When each native thread of the target stopped existing, from polls of ``/proc/PID/task``.

py-spy's chrometrace leaves a thread's last stack open until its file is written: a thread
that ended early would keep its last line's time for the rest of the chunk. The RSS sampler
lists the target's tasks on each of its reads (~20 µs beside the /proc reads it does
anyway) and hands them here; a thread's end is then known to lie between the last poll
that listed it and the first that did not.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Iterable


class ThreadEnds:
    """Polls of the native thread ids alive, in ``time.monotonic()`` seconds."""

    def __init__(self) -> None:
        self._last_seen: dict[int, float] = {}
        # Every poll's time: a thread no poll ever listed (it lived less than one interval)
        # is gone at the first poll after it was sampled. 8 bytes a poll, 400 B a second.
        self._polls = array("d")
        self._lock = threading.Lock()
        self.alive = 0  # how many threads the last poll listed

    def saw(self, tids: Iterable[int], t: float) -> None:
        """One poll at ``t``: ``tids`` were alive, every other thread was not."""
        with self._lock:
            n = 0
            for tid in tids:
                self._last_seen[tid] = t
                n += 1
            self._polls.append(t)
            self.alive = n

    def end_after(self, tid: int, t: float) -> float | None:
        """Where thread ``tid``, alive at ``t``, ended: midway between the last time it was
        known alive and the first poll that no longer listed it; None while no poll has."""
        with self._lock:
            alive = max(t, self._last_seen.get(tid, t))
            i = bisect.bisect_right(self._polls, alive)
            if i == len(self._polls):
                return None
            return (alive + self._polls[i]) / 2
