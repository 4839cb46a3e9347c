"""diag on a Dask LocalCluster (processes, loopback), measured side by side in one run:

1. ``diag dump --dask`` latency with 2 and 4 workers, each running a task (median of 3);
2. the workers' slowdown while sampled: a fixed batch of pure-Python tasks timed bare, under
   ``diag profile --dask`` and under raw py-spy (``record --nonblocking`` on each worker),
   interleaved, 3 rounds each;
3. the estimator's Dask backend against its NumPy backend on a 500,000-row panel.

    python scripts/bench_dask.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster


def count(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def hold(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def cluster(n: int) -> tuple[LocalCluster, Client]:
    c = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    return c, Client(c)


def dump_latency(n: int) -> float:
    c, client = cluster(n)
    try:
        futures = [client.submit(hold, 60, pure=False) for _ in range(n)]
        time.sleep(2.0)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "diagkit.cli",
                    "dump",
                    "--dask",
                    c.scheduler_address,
                    "--json",
                    "--interval",
                    "0.5",
                ],
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            times.append(time.perf_counter() - t0)
        del futures
        return statistics.median(times)
    finally:
        client.close()
        c.close()


def batch(client: Client, tasks: int, n: int) -> float:
    t0 = time.perf_counter()
    client.gather([client.submit(count, n + i, pure=False) for i in range(tasks)])
    return time.perf_counter() - t0


def slowdown(rounds: int, tasks: int, n: int) -> dict[str, list[float]]:
    c, client = cluster(2)
    out: dict[str, list[float]] = {"bare": [], "diag": [], "py-spy": []}
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    try:
        batch(client, 4, n)  # warm: imports, first tasks
        pids = list(client.run(__import__("os").getpid).values())
        for _ in range(rounds):
            out["bare"].append(batch(client, tasks, n))
            folder = tempfile.mkdtemp()
            diag = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "diagkit.cli",
                    "profile",
                    "-q",
                    "--out",
                    f"{folder}/r",
                    "--dask",
                    c.scheduler_address,
                    "--duration",
                    "30",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(2.0)  # diag connected and its py-spy attached
            out["diag"].append(batch(client, tasks, n))
            diag.terminate()
            diag.wait()
            spies = [
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(p),
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--idle",
                        "--threads",
                        "--format",
                        "chrometrace",
                        "--output",
                        f"{folder}/{p}.json",
                        "--duration",
                        "30",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for p in pids
            ]
            time.sleep(1.0)
            out["py-spy"].append(batch(client, tasks, n))
            for s in spies:
                s.terminate()
                s.wait()
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        client.close()
        c.close()
    return out


def estimator(units: int, periods: int, biters: int) -> tuple[float, float]:
    import estimator_core as ec

    sim = ec.simulate_panel(n_units=units, n_periods=periods, seed=5)
    cols = ("y", "period", "id", "first_treat")
    t0 = time.perf_counter()
    ec.att_gt(sim.data, *cols, backend="numpy", biters=biters, random_state=1)
    numpy_s = time.perf_counter() - t0
    c, client = cluster(2)
    try:
        ec.att_gt(sim.data, *cols, backend="dask", biters=50, random_state=1)  # warm the workers
        t0 = time.perf_counter()
        ec.att_gt(sim.data, *cols, backend="dask", biters=biters, random_state=1)
        dask_s = time.perf_counter() - t0
    finally:
        client.close()
        c.close()
    return numpy_s, dask_s


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    for n in (2, 4):
        print(f"dump --dask, {n} workers: {dump_latency(n):.2f} s (median of 3)")
    rounds, tasks, n = (1, 20, 200_000) if a.quick else (5, 200, 400_000)
    s = slowdown(rounds, tasks, n)
    bare = statistics.median(s["bare"])
    for k in ("bare", "diag", "py-spy"):
        m = statistics.median(s[k])
        print(f"{tasks} tasks, {k:>6}: {m:.3f} s ({m / bare:.3f}x bare) rounds {s[k]}")
    units = 20_000 if a.quick else 100_000
    numpy_s, dask_s = estimator(units, 5, 999)
    print(
        f"att_gt on {units * 5:,} rows, 999 draws: numpy {numpy_s:.2f} s, dask (2 workers) "
        f"{dask_s:.2f} s ({dask_s / numpy_s:.2f}x)"
    )


if __name__ == "__main__":
    main()
