"""Inference pieces: distribution functions, R's type-1 quantile, bootstrap vs analytic SEs,
memory that does not grow with the number of draws, and the stage ranges."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import diagkit._runtime
import estimator_core as ec
from estimator_core.backends.numba_backend import NumbaBackend
from estimator_core.backends.numpy_backend import NumpyBackend
from estimator_core.bootstrap import multiplier_bootstrap
from estimator_core.stats import chi2_sf, norm_cdf, norm_ppf, quantile_type1

COLS = ("y", "period", "id", "first_treat")


def test_normal_quantiles_to_double_precision():
    assert norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-14)
    assert norm_ppf(0.75) == pytest.approx(0.6744897501960817, abs=1e-14)
    assert norm_ppf(0.3) == pytest.approx(-0.5244005127080409, abs=1e-14)
    assert norm_ppf(1e-10) == pytest.approx(-6.361340902404056, rel=1e-13)
    for p in (1e-6, 0.01, 0.2, 0.5, 0.9, 0.999):
        assert norm_cdf(norm_ppf(p)) == pytest.approx(p, rel=1e-13)


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        (3.841458820694124, 1, 0.05),
        (11.070497693516351, 5, 0.05),
        (20.0, 3, 0.00016974243555282632),
        (0.5, 4, 0.9735009788392561),
        (150.0, 10, 3.727485055062505e-27),
        (7.7912366272002425, 5, 0.16812249492388343),
    ],
)
def test_chi_square_survival(x, df, expected):
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-12)


def test_quantile_type1_is_r_inverse_cdf():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    # R: quantile(c(5,1,4,2,3), c(.2, .25, .5, .75, .95), type=1) -> 1 2 3 4 5
    got = quantile_type1(x, (0.2, 0.25, 0.5, 0.75, 0.95))
    assert [float(g) for g in got] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # n * p lands on an integer: the lower order statistic (1000 * 0.95 = 950th value).
    y = np.arange(1.0, 1001.0)
    assert quantile_type1(y, 0.95) == 950.0
    assert quantile_type1(np.array([np.nan, 2.0, 1.0]), 0.5) == 1.0


@pytest.fixture(scope="module")
def big_fit():
    sim = ec.simulate_panel(n_units=6000, n_periods=5, seed=21)
    return ec.att_gt(sim.data, *COLS, bstrap=False, backend="numpy")


@pytest.mark.parametrize("weights", ["rademacher", "mammen"])
def test_bootstrap_se_matches_analytic(big_fit, weights):
    res = multiplier_bootstrap(
        big_fit.inffunc, biters=2000, random_state=4, backend=NumpyBackend(), weights=weights
    )
    ratio = res.se / big_fit.se_analytical
    # The IQR-based SE from 2,000 draws has ~3% sampling error per cell.
    assert np.all(np.abs(ratio - 1.0) < 0.12), ratio
    assert abs(ratio.mean() - 1.0) < 0.04
    k = big_fit.att.size
    # Sup-t band: wider than pointwise, narrower than Bonferroni.
    assert norm_ppf(0.975) < res.crit_val < norm_ppf(1 - 0.025 / k)


def test_att_gt_uses_bootstrap_se_and_uniform_band(big_fit):
    sim = ec.simulate_panel(n_units=6000, n_periods=5, seed=21)
    fit = ec.att_gt(sim.data, *COLS, biters=500, random_state=9, backend="numpy")
    assert fit.bstrap and fit.uniform_band and fit.random_state == 9
    assert not np.allclose(fit.se, fit.se_analytical)
    np.testing.assert_allclose(fit.se, fit.se_analytical, rtol=0.2)
    np.testing.assert_allclose(fit.ci_upper - fit.att, fit.crit_val * fit.se)
    again = ec.att_gt(sim.data, *COLS, biters=500, random_state=9, backend="numpy")
    np.testing.assert_array_equal(again.se, fit.se)
    assert "Simult." in fit.summary()
    pointwise = ec.att_gt(sim.data, *COLS, biters=500, random_state=9, cband=False, backend="numpy")
    assert pointwise.crit_val == pytest.approx(norm_ppf(0.975))


def test_aggregation_bootstrap(big_fit):
    analytic = ec.aggte(big_fit, "dynamic")
    boot = ec.aggte(big_fit, "dynamic", bstrap=True, biters=1500, random_state=2)
    np.testing.assert_allclose(boot.se_egt, analytic.se_egt, rtol=0.15)
    assert boot.overall_se == pytest.approx(analytic.overall_se, rel=0.15)
    assert boot.uniform_band and boot.crit_val_egt > norm_ppf(0.975)
    assert not analytic.uniform_band and analytic.crit_val_egt == pytest.approx(norm_ppf(0.975))


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend", [NumpyBackend(), NumbaBackend()], ids=["numpy", "numba"])
def test_memory_does_not_grow_with_draws(backend):
    n, k = 20_000, 12
    inf = np.random.default_rng(3).standard_normal((n, k))
    multiplier_bootstrap(inf, biters=10, random_state=1, backend=backend)  # compile / warm up
    small = _peak_bytes(
        lambda: multiplier_bootstrap(inf, biters=1000, random_state=1, backend=backend)
    )
    large = _peak_bytes(
        lambda: multiplier_bootstrap(inf, biters=8000, random_state=1, backend=backend)
    )
    # Only the (draws x columns) result and a sorted copy of it may grow: a few B x K arrays
    # (7,000 more draws x 12 columns x 8 bytes = 0.67 MB each). A materialised B x n weight
    # matrix would add 7,000 * 20,000 * 8 bytes = 1.1 GB.
    allowed = 4 * (8000 - 1000) * k * 8 + (1 << 18)
    assert large - small < allowed, (small, large)


class _Recorder:
    def __init__(self) -> None:
        self.names: list[str] = []

    def push(self, name: str) -> None:
        self.names.append(name)

    def pop(self, name: str) -> None:
        pass


def test_stages_are_marked_with_diagkit_ranges(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(diagkit._runtime, "recorder", rec)
    sim = ec.simulate_panel(n_units=300, n_periods=4, seed=1)
    fit = ec.att_gt(sim.data, *COLS, biters=50, random_state=1, backend="numpy")
    ec.aggte(fit, "dynamic")
    for stage in (
        "att_gt.prepare",
        "att_gt.estimate",
        "att_gt.inference",
        "att_gt.bootstrap",
        "aggte.dynamic",
        "aggte.bootstrap",
    ):
        assert stage in rec.names


def test_wald_test_rejects_when_pretrends_differ():
    sim = ec.simulate_panel(n_units=3000, n_periods=6, covariates=True, seed=1)
    # Without x, the covariate-driven trend shows up as pre-treatment "effects".
    unadjusted = ec.att_gt(sim.data, *COLS, bstrap=False, backend="numpy")
    adjusted = ec.att_gt(sim.data, *COLS, xformla=["x"], bstrap=False, backend="numpy")
    assert unadjusted.wald.pvalue < 1e-4
    assert adjusted.wald.pvalue > 0.01
    assert math.isfinite(adjusted.wald.statistic)
    assert adjusted.wald.df == int((adjusted.group > adjusted.t).sum())


def test_variance_checks_warn():
    from estimator_core.diagnostics import check_psd

    with pytest.warns(ec.NumericWarning, match="not positive semi-definite"):
        assert not check_psd("V", np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert check_psd("V", np.array([[2.0, 1.0], [1.0, 2.0]]))
