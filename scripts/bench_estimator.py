"""Benchmark att_gt: 50,000 units x 10 periods, three cohorts, 40% never treated, DR without
covariates, 1,000 multiplier-bootstrap draws, on every available backend.

Reports per backend: the full call after compilation (best and median of several runs), the
bootstrap's share of it, Numba's compile time (cold cache) and first-call time with the
on-disk cache, and peak RSS at 1,000 vs 10,000 draws (the bootstrap must not grow with draws).
moderndid (Python port of R's did) is timed side by side when it is importable.

    python scripts/bench_estimator.py            # the table for docs/benchmarks.md
    python scripts/bench_estimator.py --quick    # smaller and fewer repeats, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import estimator_core as ec
from estimator_core.backends.dispatch import get_backend
from estimator_core.bootstrap import multiplier_bootstrap

COLS = ("y", "period", "id", "first_treat")


def make_data(units: int, periods: int, seed: int = 2024) -> dict[str, np.ndarray]:
    sim = ec.simulate_panel(n_units=units, n_periods=periods, never_share=0.4, seed=seed)
    return sim.data


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def bench_backend(name: str, data: dict, biters: int, repeats: int) -> dict:
    def full() -> ec.MPResult:
        return ec.att_gt(data, *COLS, est_method="dr", biters=biters, random_state=1, backend=name)

    t0 = time.perf_counter()
    fit = full()  # compiles (Numba) or warms caches
    first = time.perf_counter() - t0
    best, median = timed(full, repeats)
    be = get_backend(name)
    boot_best, _ = timed(
        lambda: multiplier_bootstrap(fit.inffunc, biters=biters, random_state=1, backend=be),
        repeats,
    )
    return {
        "backend": name,
        "first_call_s": first,
        "best_s": best,
        "median_s": median,
        "bootstrap_s": boot_best,
        "bootstrap_share": boot_best / best,
        "cells": int(fit.att.size),
    }


def _probe(args: argparse.Namespace) -> None:
    """Runs in a child process: one measurement, printed as JSON."""
    data = make_data(args.units, args.periods)
    if args.probe == "first-call":
        t0 = time.perf_counter()
        ec.att_gt(data, *COLS, biters=args.biters, random_state=1, backend="numba")
        print(json.dumps({"first_call_s": time.perf_counter() - t0}))
        return
    # Peak RSS of one call: warm up, reset the high-water mark, run, read it back. Then the
    # same call under tracemalloc, which sees every NumPy allocation made during it.
    ec.att_gt(data, *COLS, biters=20, random_state=1, backend=args.probe_backend)
    base = _rss_kib("VmRSS")
    reset = _reset_peak()
    ec.att_gt(data, *COLS, biters=args.biters, random_state=1, backend=args.probe_backend)
    peak = _rss_kib("VmHWM")
    tracemalloc.start()
    ec.att_gt(data, *COLS, biters=args.biters, random_state=1, backend=args.probe_backend)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = {"base_mib": base / 1024, "peak_mib": peak / 1024, "traced_mib": traced / 2**20}
    print(json.dumps({**out, "reset": reset}))


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _child(args: argparse.Namespace, extra: list[str], env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--units", str(args.units), "--periods", str(args.periods)]
    out = subprocess.run(
        cmd + extra, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def numba_compile(args: argparse.Namespace, steady: float) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _child(args, ["--probe", "first-call", "--biters", "1000"], env)["first_call_s"]
        warm = _child(args, ["--probe", "first-call", "--biters", "1000"], env)["first_call_s"]
    return {"cold_first_call_s": cold, "compile_s": cold - steady, "cached_first_call_s": warm}


def moderndid_time(data: dict, biters: int, repeats: int) -> float | None:
    try:
        import moderndid
        import polars as pl
    except ImportError:
        return None
    frame = pl.DataFrame({k: np.asarray(v) for k, v in data.items()})

    def run() -> object:
        return moderndid.att_gt(
            data=frame,
            yname="y",
            tname="period",
            idname="id",
            gname="first_treat",
            est_method="dr",
            boot=True,
            biters=biters,
        )

    try:
        run()
    except Exception as exc:  # an API drift in the optional comparison must not sink the run
        print(f"moderndid: failed ({type(exc).__name__}: {exc}), skipped")
        return None
    return timed(run, repeats)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--biters", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10,000 units, 3 repeats")
    parser.add_argument("--probe", choices=["first-call", "rss"], help=argparse.SUPPRESS)
    parser.add_argument("--probe-backend", default="numba", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        _probe(args)
        return
    if args.quick:
        args.units, args.repeats = 10_000, 3
    data = make_data(args.units, args.periods)
    backends = [b for b in ("numpy", "numba", "cupy") if b in ec.available_backends()]
    print(
        f"# att_gt benchmark: {args.units} units x {args.periods} periods, dr, no covariates, "
        f"{args.biters} draws"
    )
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    rows = [bench_backend(b, data, args.biters, args.repeats) for b in backends]
    print("\n| backend | att_gt best (s) | median (s) | bootstrap (s) | bootstrap share |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['best_s']:.3f} | {r['median_s']:.3f} | "
            f"{r['bootstrap_s']:.3f} | {100 * r['bootstrap_share']:.0f}% |"
        )
    md = moderndid_time(data, args.biters, max(1, args.repeats // 3))
    print(f"| moderndid | {md:.3f} | | | |" if md else "\nmoderndid: not importable, skipped")
    if "numba" in backends:
        steady = next(r["best_s"] for r in rows if r["backend"] == "numba")
        comp = numba_compile(args, steady)
        print(
            f"\nNumba compile (cold cache, first call minus a steady call): {comp['compile_s']:.1f} s; "
            f"first call with the on-disk cache: {comp['cached_first_call_s']:.2f} s"
        )
    print(
        "\n| backend | draws | RSS before call (MiB) | peak RSS in call (MiB) "
        "| peak traced allocations in call (MiB) |"
    )
    print("|---|---|---|---|---|")
    for b in backends:
        for draws in (1000, 10_000):
            m = _child(args, ["--probe", "rss", "--probe-backend", b, "--biters", str(draws)])
            print(
                f"| {b} | {draws} | {m['base_mib']:.0f} | {m['peak_mib']:.0f} "
                f"| {m['traced_mib']:.1f} |"
            )


if __name__ == "__main__":
    main()
