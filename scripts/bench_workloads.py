"""Benchmark targets with a known-hot function whose true share each run measures itself.

    python scripts/bench_workloads.py WORKLOAD SCALE TRUTH.json

writes {"hot_name": the hot function, "hot_share": its true share of the run,
"basis": what the share is of, "total": wall seconds of the whole workload from
its first line, "hot": seconds in the hot function, "phases": seconds by phase}.
Work is fixed by SCALE (never by elapsed time), so a slower run under a profiler
shows up as a longer wall time.

The share's basis is what a sampler that drops waiting threads counts: for the
one-thread workloads, the main thread's wall time (perf_counter); for the threaded
one, the time each thread spent running or runnable (on a CPU or queued for one;
not waiting for the GIL), summed over threads. "cpu_share" there is the same
share in CPU time alone.
"""

from __future__ import annotations

import time

# The sampler sees the program from its first line on, imports included: so does the truth.
T0 = time.perf_counter()

import os  # noqa: E402
import threading  # noqa: E402

_LOCAL = threading.local()


def thread_clocks() -> tuple[float, float]:
    """This thread's seconds on a CPU, and seconds it waited runnable in the run queue
    (Linux's schedstat; 0 elsewhere). A thread waiting for the GIL is in neither.

    The CPU time is thread_time's: schedstat's own moves only at scheduler ticks. Its
    wait is exact when a thread reads its own: a running thread's waits are all behind it."""
    fd = getattr(_LOCAL, "fd", None)
    if fd is None:
        try:  # thread-self is resolved at open: one descriptor per thread
            fd = _LOCAL.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            fd = _LOCAL.fd = -1
    queued = int(os.pread(fd, 128, 0).split()[1]) / 1e9 if fd >= 0 else 0.0
    return time.thread_time(), queued


MAIN_CLOCKS = thread_clocks()

import json  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

HOT_S = 0.0


def timed(fn):
    def wrapper(*a, **k):
        global HOT_S
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            HOT_S += time.perf_counter() - t

    wrapper.hot_name = fn.__name__
    return wrapper


# W1: an OLS fit and a pairs bootstrap: mostly native (BLAS) time.
@timed
def bootstrap_ols(x, y, draws, rng):
    n = len(y)
    out = np.empty((draws, x.shape[1]))
    for b in range(draws):
        idx = rng.integers(0, n, n)
        xb, yb = x[idx], y[idx]
        out[b] = np.linalg.solve(xb.T @ xb, xb.T @ yb)
    return out.std(axis=0)


def w1(scale):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 8))
    y = x @ np.arange(8.0) + rng.normal(size=20_000)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    resid = y - x @ beta
    _ = [np.sort(resid) for _ in range(40 * scale)]  # the cold part: sorting residuals
    return bootstrap_ols(x, y, 60 * scale, rng)


# W2: call-heavy pure Python against the same arithmetic inline (tracers inflate the former).
def _a(v):
    return v + 1


def _b(v):
    return v * 2


def _c(v):
    return v - 3


@timed
def call_heavy(n):
    s = 0
    for i in range(n):
        s += _c(_b(_a(i)))
    return s


def inline(n):
    s = 0
    for i in range(n):
        s += (i + 1) * 2 - 3
    return s


def w2(scale):
    for _ in range(scale):
        call_heavy(300_000)
        inline(300_000)


# W3: allocation-heavy: 64 MB temporaries and many small objects.
@timed
def temporaries(k):
    acc = 0.0
    for _ in range(k):
        a = np.ones(8_000_000)  # 64 MB, touched
        acc += float((a * 2.0).sum())
    return acc


def small_objects(n):
    return len([{"i": i, "v": (i, i + 1)} for i in range(n)])


def w3(scale):
    for _ in range(scale):
        temporaries(4)
        small_objects(200_000)


# W4: Numba: the first call compiles, later calls run the jitted loop.
def w4(scale):
    from numba import njit

    @njit(cache=False)
    def kernel(a):
        s = 0.0
        for i in range(a.shape[0]):
            s += np.sqrt(abs(a[i])) * np.sin(a[i])
        return s

    @timed
    def first_call(a):
        return kernel(a)

    a = np.random.default_rng(0).normal(size=2_000_000)
    first_call(a)
    for _ in range(12 * scale):
        kernel(a)


# W5: 32 Python threads, each multiplying 64x64 matrices (BLAS drops the GIL) between
# stretches of pure Python; the sampler pauses and reads every thread for each sample.
THREADS = 32
# Per thread (keyed by its unique name: idents are reused once a thread has ended):
# seconds on a CPU and seconds runnable but waiting for one, in the hot function and in all.
CLOCKS: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))


def clocked(prefix: str, fn):
    def wrapper(*a, **k):
        cpu, queued = thread_clocks()
        try:
            return fn(*a, **k)
        finally:
            cpu2, queued2 = thread_clocks()
            mine = CLOCKS[threading.current_thread().name]
            mine[prefix + "cpu"] += cpu2 - cpu
            mine[prefix + "queued"] += queued2 - queued

    wrapper.hot_name = fn.__name__
    return wrapper


def multiply_blocks(a, b, reps):
    c = a
    for _ in range(reps):
        c = a @ b
    return c


multiply_blocks = clocked("hot_", multiply_blocks)


def tally(n):
    s = 0
    for i in range(n):
        s += i & 7
    return s


def worker(seed, scale):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(64, 64)), rng.normal(size=(64, 64))
    for _ in range(scale):
        multiply_blocks(a, b, 20)
        tally(6_000)


def w5(scale):
    run = clocked("", worker)
    threads = [threading.Thread(target=run, args=(i, scale)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def threads_truth() -> dict:
    """The hot function's share of the time threads were running or runnable, summed over
    threads: what a sampler that drops waiting threads counts; and the same in CPU time."""
    cpu, queued = thread_clocks()
    main = CLOCKS[threading.current_thread().name]
    main["cpu"], main["queued"] = cpu - MAIN_CLOCKS[0], queued - MAIN_CLOCKS[1]
    sums = defaultdict(float)
    for mine in CLOCKS.values():
        for k, v in mine.items():
            sums[k] += v
    active, hot = sums["cpu"] + sums["queued"], sums["hot_cpu"] + sums["hot_queued"]
    return {
        "hot_share": hot / active,
        "hot": hot,
        "threads": sum(1 for m in CLOCKS.values() if m["hot_cpu"] > 0),
        "phases": {"hot": hot, "rest": active - hot, **sums},
        "cpu_share": sums["hot_cpu"] / sums["cpu"],
    }


# W6: the hot function runs 120 frames deep (as under a framework or a compiler), the
# same loop beside it 3 frames deep: a sampler whose cost grows with depth shifts the split.
DEPTH = 120
# The frames above the recursion: <module>, w6, then below it the timing wrapper, deep_loop.
DESCENT = DEPTH - 4


def descend(n, fn, arg):
    if n > 1:
        return descend(n - 1, fn, arg)
    return fn(arg)


HOT_DEPTH = 0  # the hot function's depth as seen: measured, not assumed


def program_depth(frame) -> int:
    """Frames from this one up to the script's own ``<module>`` (a runner's frames above it,
    runpy's or a profiler's, are not the program's)."""
    n = 0
    while frame is not None:
        n += 1
        if frame.f_code.co_name == "<module>" and frame.f_code.co_filename == __file__:
            return n
        frame = frame.f_back
    return n


@timed
def deep_loop(n):
    global HOT_DEPTH
    HOT_DEPTH = HOT_DEPTH or program_depth(sys._getframe())
    s = 0
    for i in range(n):
        s += (i + 1) * 2 - 3
    return s


def shallow_loop(n):
    s = 0
    for i in range(n):
        s += (i + 1) * 2 - 3
    return s


def w6(scale):
    for _ in range(scale):
        descend(DESCENT, deep_loop, 120_000)
        shallow_loop(80_000)


WORKLOADS = {
    "numpy": (w1, "bootstrap_ols"),
    "calls": (w2, "call_heavy"),
    "alloc": (w3, "temporaries"),
    "numba": (w4, "first_call"),
    "threads": (w5, "multiply_blocks"),
    "deep": (w6, "deep_loop"),
}


def truth(name: str) -> dict:
    """The run's own measure of itself, read once the workload has returned."""
    total = time.perf_counter() - T0
    if name == "threads":
        got = {**threads_truth(), "basis": "threads running or runnable"}
    else:
        got = {
            "hot_share": HOT_S / total,
            "hot": HOT_S,
            "basis": "wall",
            "phases": {"hot": HOT_S, "rest": total - HOT_S},
        }
    if name == "deep":
        got["hot_depth"] = HOT_DEPTH
    return {"hot_name": WORKLOADS[name][1], "total": total, **got}


if __name__ == "__main__":
    name, scale, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    WORKLOADS[name][0](scale)
    got = truth(name)
    with open(out, "w") as fh:
        json.dump(got, fh)
