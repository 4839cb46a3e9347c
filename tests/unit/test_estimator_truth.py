"""The estimator recovers known effects from simulated panels: intervals cover the truth at
about their stated rate across seeds, and the covariate adjustment removes a real bias."""

from __future__ import annotations

import numpy as np
import pytest

import estimator_core as ec

COLS = ("y", "period", "id", "first_treat")
SEEDS = range(40)


def _coverage(lower: np.ndarray, upper: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return (lower <= truth) & (truth <= upper)


@pytest.fixture(scope="module")
def runs():
    """40 simulated panels with covariate-driven trends, fitted with DR on x."""
    out = []
    for seed in SEEDS:
        sim = ec.simulate_panel(n_units=800, n_periods=5, covariates=True, seed=seed)
        fit = ec.att_gt(
            sim.data, *COLS, xformla="~ x", biters=400, random_state=seed, backend="numpy"
        )
        out.append((sim, fit))
    return out


def test_truth_table_of_simulator():
    sim = ec.simulate_panel(n_units=50, n_periods=6, cohorts=(3, 5), slope=0.25, seed=0)
    assert sim.true_att(3, 2) == 0.0
    assert sim.true_att(3, 3) == pytest.approx(0.5)
    assert sim.true_att(5, 6) == pytest.approx(1.5 + 0.25)
    assert set(np.unique(sim.data["first_treat"])) <= {0, 3, 5}
    assert sim.data["y"].shape == (300,)


def test_pointwise_intervals_cover_truth(runs):
    covered = []
    for sim, fit in runs:
        truth = sim.true_att_cells(fit.group, fit.t)
        z = ec.stats.norm_ppf(0.975)
        covered.append(_coverage(fit.att - z * fit.se, fit.att + z * fit.se, truth))
    rate = np.concatenate(covered).mean()
    # 40 panels x 12 cells; nominal 95%.
    assert 0.91 <= rate <= 0.985, rate


def test_uniform_bands_cover_all_cells_jointly(runs):
    joint = [
        _coverage(fit.ci_lower, fit.ci_upper, sim.true_att_cells(fit.group, fit.t)).all()
        for sim, fit in runs
    ]
    assert np.mean(joint) >= 0.85, np.mean(joint)
    # And they are genuinely wider than pointwise intervals.
    assert all(fit.crit_val > 1.96 for _, fit in runs)


def test_aggregates_cover_truth(runs):
    hits_dyn, hits_simple, errors = [], [], []
    for sim, fit in runs:
        dyn = ec.aggte(fit, "dynamic", bstrap=False)
        truth = np.array([sim.true_dynamic(int(e)) for e in dyn.egt])
        z = 1.959963984540054
        hits_dyn.append(
            _coverage(dyn.att_egt - z * dyn.se_egt, dyn.att_egt + z * dyn.se_egt, truth)
        )
        simple = ec.aggte(fit, "simple", bstrap=False)
        lo, hi = simple.overall_ci
        hits_simple.append(lo <= sim.true_simple() <= hi)
        errors.append(simple.overall_att - sim.true_simple())
    assert 0.9 <= np.concatenate(hits_dyn).mean() <= 0.99
    assert np.mean(hits_simple) >= 0.88
    # Unbiased: the average error is small against its own standard error across panels.
    assert abs(np.mean(errors)) < 3 * np.std(errors) / np.sqrt(len(errors))


def test_ignoring_the_covariate_is_biased_adjusting_is_not():
    sim = ec.simulate_panel(n_units=20_000, n_periods=5, covariates=True, seed=77)
    truth = None
    for method in ("dr", "ipw", "reg"):
        fit = ec.att_gt(
            sim.data, *COLS, xformla=["x"], est_method=method, bstrap=False, backend="numpy"
        )
        truth = sim.true_att_cells(fit.group, fit.t)
        assert np.all(np.abs(fit.att - truth) < 4.5 * fit.se), method
    naive = ec.att_gt(sim.data, *COLS, bstrap=False, backend="numpy")
    z = np.abs(naive.att - truth) / naive.se
    assert z.max() > 6  # the unadjusted estimate is far off in at least one cell


@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_no_covariate_designs_are_unbiased(control_group, base_period):
    sim = ec.simulate_panel(n_units=20_000, n_periods=6, seed=3)
    fit = ec.att_gt(
        sim.data,
        *COLS,
        control_group=control_group,
        base_period=base_period,
        bstrap=False,
        backend="numpy",
    )
    truth = sim.true_att_cells(fit.group, fit.t)
    ok = np.isfinite(fit.se)
    assert np.all(np.abs(fit.att[ok] - truth[ok]) < 4.5 * fit.se[ok])
    if base_period == "universal":
        ref = fit.t == fit.group - 1
        assert np.all(fit.att[ref] == 0.0) and np.all(np.isnan(fit.se[ref]))
