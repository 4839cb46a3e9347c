"""The processes a target started, found in /proc, so that stopping a run stops all of them.

The target shares diag's process group (a Ctrl-C at the terminal must reach it,
and a group of its own would get SIGTTIN on its first read of the terminal), so
that group cannot be signalled without signalling diag and the shell's job. Its
descendants are found by their parent links instead: a snapshot taken before the
target is stopped, and, since diag is made their subreaper, the orphans that the
kernel hands to diag when their parent dies (a pool's workers, a double fork).
A process is named by its pid and its start time, so a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection

PR_SET_CHILD_SUBREAPER = 36
_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Have what the target orphans re-parented to diag instead of init, where a stop finds it."""
    global _subreaper
    if _subreaper is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):  # not Linux
            _subreaper = False
    return _subreaper


def _stat(pid: int) -> tuple[int, int, bytes] | None:
    """(parent pid, start time in clock ticks, state letter), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            # The command name may hold spaces and parentheses: the fields follow the last ")".
            fields = fh.read().rpartition(b")")[2].split()
        return int(fields[1]), int(fields[19]), fields[0]
    except (OSError, IndexError, ValueError):
        return None


def _table() -> dict[int, tuple[int, int, bytes]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            out[int(name)] = st
    return out


def descendants(root: int, skip: Collection[int] = ()) -> dict[int, int]:
    """Every live descendant of ``root``, not going below ``skip``: pid -> start time."""
    table = _table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out: dict[int, int] = {}
    todo = [p for p in kids.get(root, []) if p not in skip]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out[pid] = table[pid][1]
            todo.extend(k for k in kids.get(pid, []) if k not in skip)
    return out


def adopted(exclude: set[int]) -> dict[int, int]:
    """diag's own children (other than ``exclude``) and everything below them: pid -> start time.

    Called once diag's helpers (py-spy) have ended, what is left among diag's children
    was handed over by the kernel when the target, or a process under it, died."""
    # The target's own, while it lives, are not orphans: the walk does not go below it.
    return descendants(os.getpid(), skip=exclude)


def kill(procs: dict[int, int]) -> None:
    """SIGKILL each process still alive with the same start time, then reap those that are diag's."""
    mine: list[int] = []
    for pid, start in procs.items():
        st = _stat(pid)
        if st is None or st[1] != start:
            continue  # gone, or the pid is someone else's now
        if st[2] != b"Z":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)
        if st[0] == os.getpid():
            mine.append(pid)
    _reap(mine)


def _reap(pids: list[int], limit_s: float = 2.0) -> None:
    """Collect the exit status of killed children, so that none is left a zombie.

    PID 1 in a container often reaps nothing, and diag, as their subreaper, is the
    parent of these."""
    deadline = time.monotonic() + limit_s
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pids.remove(pid)
        if pids:
            time.sleep(0.01)
