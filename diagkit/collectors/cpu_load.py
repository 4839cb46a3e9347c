"""The CPU load section: the threads' run-queue waits, the peak counts, the thread settings."""

from __future__ import annotations

import os
from collections import defaultdict

from diagkit.collectors.rss import RssSampler
from diagkit.collectors.run_queue import RunQueue
from diagkit.model.cpu import CpuLoadSection, ThreadCpu

THREAD_SETTINGS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
MAX_THREADS = 64
BUSY_PROCESS = 0.25  # of the busiest process's CPU


def cores_available(pid: int | None = None) -> int:
    try:
        return len(os.sched_getaffinity(pid or 0))
    except (AttributeError, OSError):
        return os.cpu_count() or 0


def cpu_load(
    run_queue: RunQueue,
    rss: RssSampler,
    cores: int,
    env: dict[str, str],
    switches: tuple[int, int] = (0, 0),
) -> CpuLoadSection:
    threads = run_queue.threads()
    if not threads:
        return CpuLoadSection(
            unavailable_reason="no thread's schedstat could be read (the kernel keeps none, "
            "or the program ended before the first read)"
        )
    per_pid: dict[int, float] = defaultdict(float)
    for t in threads.values():
        per_pid[t.pid] += t.cpu_ns / 1e9
    top = max(per_pid.values())
    rows = sorted(
        (
            ThreadCpu(tid, t.pid, t.cpu_ns / 1e9, t.wait_ns / 1e9, t.runs)
            for tid, t in threads.items()
        ),
        key=lambda r: -r.cpu_s,
    )
    return CpuLoadSection(
        available=True,
        unavailable_reason="",
        cores=cores,
        peak_processes=rss.peak_processes,
        peak_threads=rss.peak_threads,
        busy_processes=sum(1 for s in per_pid.values() if top and s >= BUSY_PROCESS * top),
        cpu_s=sum(r.cpu_s for r in rows),
        run_wait_s=sum(r.run_wait_s for r in rows),
        voluntary_switches=switches[0],
        involuntary_switches=switches[1],
        thread_settings={k: env[k] for k in THREAD_SETTINGS if k in env},
        threads=rows[:MAX_THREADS],
    )
