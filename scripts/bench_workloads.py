"""Benchmark targets with a known-hot function whose true share each run measures itself.

    python scripts/bench_workloads.py WORKLOAD SCALE TRUTH.json

writes {"hot": seconds in the hot function, "total": seconds of the whole
workload, "hot_name": its name}. Work is fixed by SCALE (never by elapsed time),
so a slower run under a profiler shows up as a longer wall time.
"""

from __future__ import annotations

import time

# The sampler sees the program from its first line on, imports included: so does the truth.
T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

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


WORKLOADS = {
    "numpy": (w1, "bootstrap_ols"),
    "calls": (w2, "call_heavy"),
    "alloc": (w3, "temporaries"),
    "numba": (w4, "first_call"),
}

if __name__ == "__main__":
    name, scale, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    fn, hot = WORKLOADS[name]
    fn(scale)
    total = time.perf_counter() - T0
    with open(out, "w") as fh:
        json.dump({"hot": HOT_S, "total": total, "hot_name": hot}, fh)
