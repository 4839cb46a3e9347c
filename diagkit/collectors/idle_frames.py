"""Whether a sampled stack is a thread waiting, judged from where it stands.

py-spy without ``--idle`` drops a sample only when it sees the thread asleep at
that instant, and it misses: a thread blocked in ``Condition.wait``, ``time.sleep``,
``select`` or ``lock.acquire`` for a whole run still shows in ~18% of its samples
(measured on 3.11 with py-spy 0.4: 85-97 samples of ~500). Those samples are the
wait, never work, so diag drops them too, from the innermost frame: a standard
library function that only blocks, a line whose call blocks in C, or a native wait.
"""

from __future__ import annotations

import functools
import linecache
import re
from collections.abc import Callable
from typing import Any

from diagkit.collectors.own_frames import is_native

# Standard-library frames whose own time is a wait (the blocking call is C, below them).
_WAITING_FUNCTIONS = frozenset(
    {
        "Condition.wait",
        "Thread._wait_for_tstate_lock",
        "Thread.join",
        "SimpleQueue.get",
        "Connection._recv",
        "Connection._poll",
        "_PollLikeSelector.select",
        "SelectSelector.select",
        "EpollSelector.select",
        "KqueueSelector.select",
        "Popen._try_wait",
        "Barrier._wait",
        "socket.accept",
        "wait",
    }
)
# A program line whose innermost call is C that blocks: sleep(...), x.acquire(), select.select(...).
_BLOCKING_CALL = re.compile(
    r"(?:\bsleep|\.acquire|\bselect\.(?:select|poll|epoll)|\.recv|\.recv_into|\.accept|"
    r"\.waitpid|\bsignal\.pause|\.sigwait|\.sigtimedwait)\s*\("
    r"|\biter\(\s*[\w.]+\.get\s*,"  # for x in iter(queue.get, None): a C queue's blocking get
    # q.get() / q.get(block=True) on a C SimpleQueue: a ThreadPoolExecutor worker waiting for work
    r"|\.get\(\s*(?:block\s*=\s*True\s*)?\)"
)
# Native leaves (--native) that are the kernel's waits.
_NATIVE_WAITS = (
    "nanosleep",
    "futex",
    "cond_wait",
    "cond_timedwait",
    "cond_clockwait",
    "sem_wait",
    "sem_timedwait",
    "sem_clockwait",
    "epoll_wait",
    "select",
    "poll",
    "accept",
    "recv",
    "PyThread_acquire_lock",
)


def is_waiting(frames: list[dict[str, Any]], is_library: Callable[[str], bool]) -> bool:
    """``frames``: a program stack, root first (speedscope frames). With ``--native`` the
    innermost frames are C: a kernel wait there, or a waiting innermost Python frame
    (an unnamed libc address above ``Condition.wait`` is its futex)."""
    leaf = frames[-1]
    if is_native(leaf.get("file") or "") and any(
        w in (leaf.get("name") or "") for w in _NATIVE_WAITS
    ):
        return True
    py = next((fr for fr in reversed(frames) if not is_native(fr.get("file") or "")), None)
    if py is None:
        return False
    file = py.get("file") or ""
    return _waiting(py.get("name") or "", file, int(py.get("line") or 0), is_library(file))


@functools.cache  # one answer per frame and line, however many samples stood there
def _waiting(name: str, file: str, line: int, stdlib_file: bool) -> bool:
    if stdlib_file and name in _WAITING_FUNCTIONS:
        return True
    return bool(line) and bool(_BLOCKING_CALL.search(linecache.getline(file, line)))
