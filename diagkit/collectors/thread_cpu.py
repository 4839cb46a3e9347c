"""Every thread's CPU time and scheduler state, read from /proc/PID/task.

``schedstat`` counts nanoseconds where the kernel keeps it; ``stat`` only clock
ticks (10 ms), too coarse for a 0.1 s window. No third-party import here:
``diag dump`` takes its first reading before it imports anything heavy, so the
CPU window runs while the rest of diag loads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk-sleep",
    "T": "stopped",
    "t": "tracing-stop",
    "Z": "zombie",
    "X": "dead",
    "I": "idle",
    "P": "parked",
    "W": "waking",
}


@dataclass
class ThreadCpu:
    """One reading of every thread's CPU time and scheduler state."""

    t: float = field(default_factory=time.monotonic)
    cpu: dict[int, float] = field(default_factory=dict)
    state: dict[int, str] = field(default_factory=dict)


def read_threads(pid: int) -> ThreadCpu:
    snap = ThreadCpu()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return snap
    for name in tids:
        base = f"/proc/{pid}/task/{name}"
        try:
            with open(f"{base}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended while we listed them
        tid = int(name)
        snap.state[tid] = _STATES.get(fields[0], fields[0])
        try:
            with open(f"{base}/schedstat") as fh:
                snap.cpu[tid] = int(fh.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            snap.cpu[tid] = (int(fields[11]) + int(fields[12])) * _TICK_S
    return snap


def cpu_shares(before: ThreadCpu, after: ThreadCpu) -> dict[int, float]:
    """Share of one core each thread used between two readings (threads seen in both)."""
    span = after.t - before.t
    if span <= 0:
        return {}
    return {
        tid: max(0.0, cpu - before.cpu[tid]) / span
        for tid, cpu in after.cpu.items()
        if tid in before.cpu
    }
