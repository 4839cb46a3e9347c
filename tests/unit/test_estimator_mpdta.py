"""Parity with R's did package on the mpdta panel (tests/data/mpdta.csv), to the printed digits.

Reference: att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat",
xformla=~1, data=mpdta), never-treated controls, doubly robust, varying base period, analytic
standard errors (bstrap=FALSE), and aggte on that result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import estimator_core as ec

MPDTA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"

R_CELLS = [  # group, t, att, analytic se
    (2004, 2004, -0.0105, 0.0233),
    (2004, 2005, -0.0704, 0.0310),
    (2004, 2006, -0.1373, 0.0364),
    (2004, 2007, -0.1008, 0.0344),
    (2006, 2004, 0.0065, 0.0233),
    (2006, 2005, -0.0028, 0.0196),
    (2006, 2006, -0.0046, 0.0178),
    (2006, 2007, -0.0412, 0.0202),
    (2007, 2004, 0.0305, 0.0150),
    (2007, 2005, -0.0027, 0.0164),
    (2007, 2006, -0.0311, 0.0179),
    (2007, 2007, -0.0261, 0.0167),
]
# did's "Getting Started" vignette, xformla = ~lpop (point estimates).
R_CELLS_LPOP = [
    -0.0145,
    -0.0764,
    -0.1404,
    -0.1069,
    -0.0005,
    -0.0062,
    0.0010,
    -0.0413,
    0.0267,
    -0.0046,
    -0.0284,
    -0.0288,
]


def _round(x: np.ndarray | float) -> np.ndarray:
    # R prints 4 decimals; compare at that precision (half a unit in the last digit).
    return np.round(np.asarray(x, dtype=float), 4)


@pytest.fixture(scope="module")
def mpdta() -> dict[str, np.ndarray]:
    return ec.load_csv(MPDTA)


@pytest.fixture(scope="module")
def fit(mpdta):
    return ec.att_gt(
        mpdta, "lemp", "year", "countyreal", "first.treat", bstrap=False, backend="numpy"
    )


def test_cells_match_r(fit):
    ref = np.array(R_CELLS)
    np.testing.assert_array_equal(fit.group, ref[:, 0])
    np.testing.assert_array_equal(fit.t, ref[:, 1])
    np.testing.assert_array_equal(_round(fit.att), ref[:, 2])
    np.testing.assert_array_equal(_round(fit.se), ref[:, 3])
    assert fit.n == 500
    assert fit.inffunc.shape == (500, 12)


def test_pretest_matches_r(fit):
    assert fit.wald is not None
    assert fit.wald.df == 5
    assert round(fit.wald.pvalue, 3) == 0.168
    assert round(fit.wald.pvalue, 5) == 0.16812
    assert "0.16812" in fit.summary()


def test_simple_aggregation(fit):
    agg = ec.aggte(fit, "simple")
    assert _round(agg.overall_att) == -0.0400
    assert _round(agg.overall_se) == 0.0120


def test_dynamic_aggregation(fit):
    agg = ec.aggte(fit, "dynamic")
    np.testing.assert_array_equal(agg.egt, np.arange(-3, 4))
    np.testing.assert_array_equal(
        _round(agg.att_egt), [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008]
    )
    assert _round(agg.overall_att) == -0.0772
    assert _round(agg.overall_se) == 0.0200
    # Event times 2 and 3 come from the 2004 cohort alone: its cells' values and SEs.
    np.testing.assert_allclose(agg.att_egt[-2:], fit.att[2:4], rtol=1e-12)
    np.testing.assert_allclose(agg.se_egt[-2:], fit.se[2:4], rtol=1e-12)


def test_group_aggregation(fit):
    agg = ec.aggte(fit, "group")
    np.testing.assert_array_equal(agg.egt, [2004, 2006, 2007])
    np.testing.assert_array_equal(_round(agg.att_egt), [-0.0797, -0.0229, -0.0261])
    assert _round(agg.overall_att) == -0.0310
    # This SE includes the influence of the estimated cohort shares; without it, it is smaller.
    assert _round(agg.overall_se) == 0.0124


def test_calendar_aggregation_is_consistent(fit):
    agg = ec.aggte(fit, "calendar")
    np.testing.assert_array_equal(agg.egt, [2004, 2005, 2006, 2007])
    # 2004 and 2005: only the 2004 cohort is treated.
    np.testing.assert_allclose(agg.att_egt[:2], fit.att[:2], rtol=1e-12)
    np.testing.assert_allclose(agg.overall_att, agg.att_egt.mean(), rtol=1e-12)


def test_covariate_cells_match_r(mpdta):
    fit = ec.att_gt(
        mpdta,
        "lemp",
        "year",
        "countyreal",
        "first.treat",
        xformla="~lpop",
        bstrap=False,
        backend="numpy",
    )
    np.testing.assert_array_equal(_round(fit.att), R_CELLS_LPOP)


def test_bootstrap_se_in_r_range(mpdta):
    # R's bootstrap SE for 2004/2004 falls between 0.0235 and 0.0248 across runs.
    ses = [
        ec.att_gt(
            mpdta, "lemp", "year", "countyreal", "first.treat", random_state=s, backend="numpy"
        ).se[0]
        for s in range(3)
    ]
    assert all(0.0225 <= s <= 0.0258 for s in ses), ses


def test_summary_reads_like_r(fit):
    text = fit.summary()
    assert "Group-Time Average Treatment Effects:" in text
    assert "  2004 2006   -0.1373     0.0364" in text
    assert "Control Group:  Never Treated,  Anticipation Periods:  0" in text
    assert "Estimation Method:  Doubly Robust" in text
    agg = ec.aggte(fit, "dynamic").summary()
    assert "Dynamic Effects:" in agg and "-0.0772" in agg


def test_methods_coincide_without_covariates(mpdta, fit):
    # With an intercept only, the propensity score and the outcome regression are constants,
    # so IPW, outcome regression and DR are the same estimator (and have the same IF).
    for method in ("ipw", "reg"):
        other = ec.att_gt(
            mpdta,
            "lemp",
            "year",
            "countyreal",
            "first.treat",
            est_method=method,
            bstrap=False,
            backend="numpy",
        )
        np.testing.assert_allclose(other.att, fit.att, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(other.se, fit.se, rtol=1e-10)


def test_event_window_and_balanced_event_study(fit):
    window = ec.aggte(fit, "dynamic", min_e=-1, max_e=1)
    np.testing.assert_array_equal(window.egt, [-1, 0, 1])
    full = ec.aggte(fit, "dynamic")
    np.testing.assert_allclose(window.att_egt, full.att_egt[2:5], rtol=1e-12)
    # balance_e=1 keeps cohorts seen at least one period after treatment (2004 and 2006).
    bal = ec.aggte(fit, "dynamic", balance_e=1)
    assert bal.egt.max() == 1
    n_2004, n_2006 = 20, 40
    e1 = (n_2004 * fit.att[1] + n_2006 * fit.att[7]) / (n_2004 + n_2006)  # (2004,2005), (2006,2007)
    assert bal.att_egt[bal.egt == 1][0] == pytest.approx(e1, rel=1e-12)
