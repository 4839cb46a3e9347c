"""Bad input gets a clear error (naming the column and example ids) or, where R's did carries
on, a warning and NaN for the affected cells; numeric safeguards warn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import estimator_core as ec

COLS = ("y", "period", "id", "first_treat")


def _panel(n_units: int = 300, seed: int = 0, covariates: bool = False) -> dict[str, np.ndarray]:
    return dict(
        ec.simulate_panel(n_units=n_units, n_periods=4, covariates=covariates, seed=seed).data
    )


def _fit(data, **kw):
    kw.setdefault("bstrap", False)
    kw.setdefault("backend", "numpy")
    return ec.att_gt(data, *COLS, **kw)


def test_unbalanced_panel():
    d = _panel()
    keep = np.ones(d["id"].size, bool)
    keep[[5, 9]] = False  # unit 2 loses period 2, unit 3 loses period 2
    d = {k: v[keep] for k, v in d.items()}
    with pytest.raises(ec.PanelDataError, match=r"unbalanced.*'period'.*id = 2, 3"):
        _fit(d)


def test_duplicate_unit_period_rows():
    d = _panel()
    d = {k: np.concatenate([v, v[4:5]]) for k, v in d.items()}
    with pytest.raises(ec.PanelDataError, match=r"duplicate \(id, period\).*\(2, 1"):
        _fit(d)


def test_missing_and_infinite_values():
    d = _panel()
    d["y"] = d["y"].copy()
    d["y"][[8, 13]] = np.nan
    with pytest.raises(ec.PanelDataError, match=r"'y' has 2 missing values \(e\.g\. id = 3, 4\)"):
        _fit(d)
    d["y"][[8, 13]] = [np.inf, 1.0]
    with pytest.raises(ec.PanelDataError, match="missing or infinite"):
        _fit(d)


def test_non_numeric_column():
    d = _panel()
    d["y"] = d["y"].astype(str)
    with pytest.raises(ec.PanelDataError, match="column 'y' is not numeric"):
        _fit(d)
    d = _panel()
    d["y"] = d["y"].astype(object)
    d["y"][3] = "n/a"
    with pytest.raises(ec.PanelDataError, match=r"'y' is not numeric: row 3"):
        _fit(d)


def test_group_changing_over_time():
    d = _panel()
    d["first_treat"] = d["first_treat"].copy()
    d["first_treat"][12 * 4 + 1] = 3  # unit 13, second period
    d["first_treat"][12 * 4 + 0] = 0
    with pytest.raises(ec.PanelDataError, match=r"'first_treat' changes over time.*id = 13"):
        _fit(d)


def test_missing_column_and_bad_options():
    d = _panel()
    with pytest.raises(ec.PanelDataError, match="column 'lemp' is not in the data"):
        ec.att_gt(d, "lemp", "period", "id", "first_treat")
    with pytest.raises(ValueError, match="control_group must be one of"):
        _fit(d, control_group="never")
    with pytest.raises(ValueError, match="est_method"):
        _fit(d, est_method="ols")
    with pytest.raises(TypeError, match="DataFrame or a mapping"):
        ec.att_gt([1, 2, 3], *COLS)


def test_no_never_treated_units():
    d = _panel()
    d = {k: v[d["first_treat"] > 0] for k, v in d.items()}
    with pytest.raises(ec.PanelDataError, match="no never-treated units"):
        _fit(d)
    # R's fallback for not-yet-treated controls: the last cohort becomes the comparison group.
    with pytest.warns(ec.PanelDataWarning, match="serves as comparison group"):
        fit = _fit(d, control_group="notyettreated")
    assert fit.t.max() < d["first_treat"].max()
    assert np.isfinite(fit.att).all()


def test_small_cohort_gives_warning_and_nan_cells():
    d = _panel(n_units=400, covariates=True)
    g = d["first_treat"].copy()
    x = d["x"]
    # A cohort of one unit, the one with the largest x: the propensity score separates it.
    top = int(np.argmax(x[::4]))
    g[top * 4 : top * 4 + 4] = 4
    g[(g == 4) & (np.repeat(np.arange(400), 4) != top)] = 0
    d["first_treat"] = g
    with (
        pytest.warns(ec.PanelDataWarning, match=r"groups are small.*4 \(1 units\)"),
        pytest.warns(ec.NumericWarning, match=r"NaN for \d+ cells, overlap violated"),
    ):
        fit = _fit(d, xformla=["x"])
    bad = fit.group == 4
    assert np.isnan(fit.att[bad]).all() and np.isnan(fit.se[bad]).all()
    assert np.isfinite(fit.att[~bad]).all()
    with pytest.raises(ValueError, match="na_rm=True"):
        ec.aggte(fit, "dynamic")
    agg = ec.aggte(fit, "dynamic", na_rm=True)
    assert np.isfinite(agg.overall_att)
    assert "NA" in fit.summary()


def test_too_few_comparison_units_for_the_regression():
    d = _panel(n_units=200, covariates=True)
    g = d["first_treat"].copy()
    never = np.flatnonzero(g[::4] == 0)
    for u in never[1:]:  # keep a single never-treated unit
        g[u * 4 : u * 4 + 4] = 2
    d["first_treat"] = g
    with pytest.warns(ec.PanelDataWarning) as record:
        fit = _fit(d, xformla="~x", est_method="reg")
    text = " | ".join(str(w.message) for w in record)
    assert "groups are small" in text and "0 (1 units)" in text
    assert "too few comparison units" in text
    assert np.isnan(fit.att).all()


def test_units_treated_in_first_period_are_dropped():
    d = _panel()
    d["first_treat"] = d["first_treat"].copy()
    d["first_treat"][:8] = 1  # units 1 and 2
    with pytest.warns(ec.PanelDataWarning, match=r"dropped 2 units.*\[1, 2\]"):
        fit = _fit(d)
    assert fit.n == 298


def test_collinear_and_nearly_collinear_covariates():
    d = _panel(n_units=600, covariates=True)
    d["x2"] = 2.0 * d["x"] + 1.0
    with pytest.warns(ec.PanelDataWarning, match="singular outcome-regression design"):
        fit = _fit(d, xformla=["x", "x2"])
    assert np.isnan(fit.att).all()
    noise = np.random.default_rng(99).standard_normal(600)
    d["x2"] = d["x"] + 1e-5 * np.repeat(noise, 4)
    with pytest.warns(ec.NumericWarning, match="near-singular"):
        fit = _fit(d, xformla=["x", "x2"])
    assert np.isfinite(fit.att).all()


def test_extreme_propensity_scores_are_trimmed_and_counted():
    # A binary covariate with P(treated | x = 1) = 997/1000: the three comparison units with
    # x = 1 get a score of 0.997, above DRDID's 0.995 trimming level but below the 0.999 at
    # which the cell would be dropped.
    x_unit = np.r_[np.zeros(500), np.ones(3), np.zeros(500), np.ones(997)]
    g_unit = np.r_[np.zeros(503), np.full(1497, 3.0)]
    n = x_unit.size
    y = np.random.default_rng(0).standard_normal((n, 3))
    d = {
        "id": np.repeat(np.arange(n), 3),
        "period": np.tile([1.0, 2.0, 3.0], n),
        "y": y.ravel(),
        "first_treat": np.repeat(g_unit, 3),
        "x": np.repeat(x_unit, 3),
    }
    for backend in ("numpy", "numba"):
        with pytest.warns(
            ec.NumericWarning, match=r"6 comparison units with p >= 0\.995 given zero"
        ):
            fit = ec.att_gt(d, *COLS, xformla=["x"], bstrap=False, backend=backend)
        assert fit.diagnostics[:, 4].tolist() == [3.0, 3.0]
        assert np.isfinite(fit.att).all()


def test_duck_typed_dataframe_and_layouts():
    d = _panel(seed=4)
    ref = _fit(d)

    class Column:
        def __init__(self, values):
            self.values = values

        def to_numpy(self):
            return self.values

    class Frame:  # what pandas and polars offer: .columns and frame[name].to_numpy()
        def __init__(self, cols):
            self.cols = cols
            self.columns = list(cols)

        def __getitem__(self, name):
            return Column(self.cols[name])

    np.testing.assert_array_equal(_fit(Frame(d)).att, ref.att)
    order = np.random.default_rng(0).permutation(d["id"].size)
    np.testing.assert_allclose(_fit({k: v[order] for k, v in d.items()}).att, ref.att, rtol=1e-12)
    by_period = np.lexsort((d["id"], d["period"]))
    np.testing.assert_allclose(
        _fit({k: v[by_period] for k, v in d.items()}).att, ref.att, rtol=1e-12
    )
    d_str = dict(d, id=np.char.add("county-", d["id"].astype(str)))
    np.testing.assert_allclose(_fit(d_str).att, ref.att, rtol=1e-12)


def test_clean_run_emits_no_warnings():
    d = _panel(n_units=2000, covariates=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(d, xformla=["x"], bstrap=True, biters=100, random_state=1)
