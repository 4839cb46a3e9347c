"""Demo job: simulate a staggered-adoption panel, estimate ATT(g,t), aggregate to an event study.

The default size takes a few seconds on two cores with the NumPy backend, long enough for
``diag profile scripts/demo_estimator.py`` to show every stage (data preparation, per-cell
estimation, bootstrap, aggregation) as a named range.

    python scripts/demo_estimator.py
    python scripts/demo_estimator.py --backend numba --covariates --units 500000

``DEMO_ESTIMATOR_UNITS`` in the environment changes the default size, so that a command
written for the full demo can be run small (the test that runs the guide's commands does).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import estimator_core as ec


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Simulate, estimate and aggregate a staggered DiD.")
    units = int(os.environ.get("DEMO_ESTIMATOR_UNITS", "200000"))
    p.add_argument("--units", type=int, default=units, help=f"number of units (default {units})")
    p.add_argument("--periods", type=int, default=10, help="number of periods (default 10)")
    p.add_argument(
        "--backend", default="numpy", choices=ec.backends.BACKEND_NAMES, help="array backend"
    )
    p.add_argument("--biters", type=int, default=1000, help="bootstrap draws (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the bootstrap")
    p.add_argument(
        "--covariates",
        action="store_true",
        help="simulate trends that depend on a covariate x, and adjust for x (doubly robust)",
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    t0 = time.perf_counter()
    sim = ec.simulate_panel(
        n_units=args.units, n_periods=args.periods, covariates=args.covariates, seed=args.seed
    )
    t_sim = time.perf_counter() - t0
    shares = ", ".join(
        f"{g}: {s:.0%}" for g, s in zip(sim.cohorts, sim.cohort_shares(), strict=True)
    )
    print(f"Simulated {args.units} units x {args.periods} periods in {t_sim:.1f} s")
    print(f"Cohorts (first treated period: share of units): {shares}; the rest never treated\n")

    t0 = time.perf_counter()
    fit = ec.att_gt(
        sim.data,
        yname="y",
        tname="period",
        idname="id",
        gname="first_treat",
        xformla="~ x" if args.covariates else None,
        biters=args.biters,
        random_state=args.seed,
        backend=args.backend,
    )
    t_fit = time.perf_counter() - t0
    print(fit.summary())
    truth = sim.true_att_cells(fit.group, fit.t)
    covered = np.mean((fit.ci_lower <= truth) & (truth <= fit.ci_upper))
    print(f"\nTrue ATT(g,t) inside the uniform band for {covered:.0%} of cells\n")

    t0 = time.perf_counter()
    dyn = ec.aggte(fit, "dynamic")
    t_agg = time.perf_counter() - t0
    print(dyn.summary())
    print("\nEvent time   estimate      truth")
    for e, est in zip(dyn.egt, dyn.att_egt, strict=True):
        print(f"{int(e):>10} {est:>10.4f} {sim.true_dynamic(int(e)):>10.4f}")
    print(f"\natt_gt: {t_fit:.2f} s ({fit.backend}), aggte: {t_agg:.2f} s")


if __name__ == "__main__":
    main()
