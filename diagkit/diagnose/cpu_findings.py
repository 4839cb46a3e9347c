"""Findings about the cores: more runnable threads than cores, and threads taking turns at the GIL.

Both read the kernel's own counts per thread (``cpu``: time on a core, time runnable but
waiting for one) against what the samples saw, so neither needs a second profiling mode.
"""

from __future__ import annotations

from collections import defaultdict

from diagkit.collectors.compile_fold import COMPILE_FILE
from diagkit.model.cpu import CpuLoadSection
from diagkit.model.findings import Evidence, Finding
from diagkit.model.report import Report, ThreadTime
from diagkit.render.units import fmt_s

MIN_CPU_S = 0.5  # less CPU than this, and no thread count is worth changing
WAIT_PER_CPU = 0.25  # run-queue seconds per CPU-second: threads queue for the cores
WAIT_SHARE = 0.10  # of the wall time, that waiting at least
GIL_BUSY_SHARE = 0.20  # of the wall time a thread spends in Python to count as busy
GIL_ON_CORE = 0.65  # of their Python time the busy threads ran at most: the rest they queued
GIL_CORES = 1.3  # between them they used about one core, the GIL's signature
# A thread taking turns at the GIL is put on a core every switch interval (5 ms) it gets
# the GIL; one blocked in a C call the samples cannot tell from Python (a pipe's read)
# is not put on one at all.
GIL_RUNS_PER_S = 20
COMPILE_PART = 0.25  # of the busy threads' Python time inside Numba's compiler
_SETTINGS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def oversubscribed(r: Report) -> Finding | None:
    c, wall = r.cpu, r.outcome.wall_s
    if not c.available or not c.cores or wall <= 0 or c.cpu_s < MIN_CPU_S:
        return None
    if c.peak_threads <= c.cores or c.run_wait_s < WAIT_PER_CPU * c.cpu_s:
        return None
    if c.run_wait_s < WAIT_SHARE * wall:
        return None
    procs = max(1, c.busy_processes)
    per = max(1, c.cores // procs)
    wanting = (c.cpu_s + c.run_wait_s) / wall
    plural = "es" if procs > 1 else ""
    set_now = ", ".join(f"{k}={v}" for k, v in c.thread_settings.items()) or "no thread count set"
    return Finding(
        kind="oversubscribed",
        severity="high" if c.run_wait_s >= c.cpu_s else "medium",
        message=(
            f"runnable threads waited {fmt_s(c.run_wait_s)} for a core against "
            f"{fmt_s(c.cpu_s)} on one: on average {wanting:.1f} threads wanted the "
            f"{c.cores} cores ({c.peak_threads} threads in {procs} busy process{plural}; "
            f"{set_now})"
        ),
        advice=(
            f"give each busy process {per} thread{'s' if per > 1 else ''}: "
            + " ".join(f"{k}={per}" for k in _SETTINGS)
            + f" for {procs} process{plural}, or run fewer processes; "
            "threads past the cores only take turns (and BLAS threads spin while they wait)"
        ),
        where=f"{procs} process{plural}, {c.peak_threads} threads, {c.cores} cores",
        at_stake_s=min(wall, c.run_wait_s / c.cores),
        evidence=[
            Evidence("seconds runnable, waiting for a core", round(c.run_wait_s, 3), "s"),
            Evidence("seconds on a core", round(c.cpu_s, 3), "s"),
            Evidence("threads wanting a core, on average", round(wanting, 2), "count"),
            Evidence("cores", c.cores, "count"),
            Evidence("peak threads", c.peak_threads, "count"),
            Evidence("busy processes", procs, "count"),
        ],
    )


def gil_bound(r: Report) -> Finding | None:
    """Threads sampled in Python for much of the run that, together, ran on about one core."""
    c, t, wall = r.cpu, r.time, r.outcome.wall_s
    if not c.available or not t.available or wall <= 0:
        return None
    busy = _busy_threads(c, t.threads, wall)
    if len(busy) < 2:
        return None
    on_core = {x.tid: x.cpu_s for x in c.threads}
    python_s = sum(th.seconds for th in busy)
    cpu_s = sum(on_core[th.tid] for th in busy)
    pid = next(x.pid for x in c.threads if x.tid == busy[0].tid)
    # All its threads: BLAS or OpenMP helpers computing for a thread leave it idle, not queued.
    process_cpu_s = sum(x.cpu_s for x in c.threads if x.pid == pid)
    if cpu_s > GIL_ON_CORE * python_s or process_cpu_s > GIL_CORES * wall:
        return None
    # Numba compiles and cache loads take turns at its compiler lock, not the GIL's: the
    # compile finding speaks for that time, and processes would not help it.
    compiling = sum(f.total_s for f in t.functions if f.file == COMPILE_FILE)
    if compiling >= COMPILE_PART * python_s:
        return None
    names = ", ".join(_name(th) for th in busy[:4]) + (", ..." if len(busy) > 4 else "")
    return Finding(
        kind="gil-bound",
        severity="high" if cpu_s <= 0.5 * python_s else "medium",
        message=(
            f"{len(busy)} threads ({names}) were in Python for {fmt_s(python_s)} between them "
            f"but on a core for {fmt_s(cpu_s)}: they take turns holding the GIL"
        ),
        advice=(
            "Python-level work in threads runs one thread at a time: run it in processes "
            "(concurrent.futures.ProcessPoolExecutor), or move the loop into NumPy or Numba "
            "(@njit(nogil=True)), which let go of the GIL while they compute"
        ),
        where=names,
        at_stake_s=min(wall, python_s - cpu_s),
        evidence=[
            Evidence("busy threads", len(busy), "count"),
            Evidence("seconds in Python, summed", round(python_s, 3), "s"),
            Evidence("seconds on a core, summed", round(cpu_s, 3), "s"),
            Evidence("on a core per second in Python", round(cpu_s / python_s, 3), "ratio"),
        ],
    )


def _busy_threads(c: CpuLoadSection, threads: list[ThreadTime], wall: float) -> list[ThreadTime]:
    """The busy threads of the one process (the GIL is per process) with the most of them."""
    rows = {x.tid: x for x in c.threads}
    by_pid: dict[int, list[ThreadTime]] = defaultdict(list)
    for th in threads:
        row = rows.get(th.tid)
        if row is None or th.seconds < GIL_BUSY_SHARE * wall:
            continue
        if row.runs < GIL_RUNS_PER_S * th.seconds:
            continue  # in Python by its stack, but off the cores: blocked, not queued
        by_pid[row.pid].append(th)
    if not by_pid:
        return []
    most = max(by_pid.values(), key=lambda ths: sum(th.seconds for th in ths))
    return sorted(most, key=lambda th: -th.seconds)


def _name(th: ThreadTime) -> str:
    quoted = th.thread.rsplit('"', 2)
    return quoted[1] if len(quoted) == 3 and quoted[1] else str(th.tid)
