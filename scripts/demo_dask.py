"""The estimator on a Dask cluster, profiled from outside while it runs.

Starts a LocalCluster (worker processes on loopback), fits ``att_gt(..., backend="dask")``
again and again for a while, and meanwhile runs ``diag profile --dask`` on the cluster and
``diag dump --dask``: the report shows the workers' functions, the task table and the
memory of each worker. The cluster is closed at the end.

    python scripts/demo_dask.py [--workers 2] [--seconds 4] [--out diag-reports/dask]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

import estimator_core as ec


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--units", type=int, default=20_000)
    p.add_argument("--out", default="diag-reports/dask")
    a = p.parse_args()
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=a.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        sim = ec.simulate_panel(n_units=a.units, n_periods=6, seed=1)
        cols = ("y", "period", "id", "first_treat")
        done = threading.Event()
        fits: list[object] = []

        def fit_until_done() -> None:
            while not done.is_set():
                fits.append(ec.att_gt(sim.data, *cols, backend="dask", biters=999, random_state=1))

        worker = threading.Thread(target=fit_until_done, name="fits")
        worker.start()
        time.sleep(1.0)  # the workers have imported the estimator
        diag = [sys.executable, "-m", "diagkit.cli"]
        address = cluster.scheduler_address
        subprocess.run([*diag, "dump", "--dask", address], check=False)
        subprocess.run(
            [*diag, "profile", "--out", a.out, "--dask", address, "--duration", str(a.seconds)],
            check=False,
        )
        done.set()
        worker.join()
    print(f"{len(fits)} fits on {a.workers} workers; the last one's estimates:")
    print(fits[-1])


if __name__ == "__main__":
    main()
