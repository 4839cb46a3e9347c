"""Synthetic staggered-adoption panels with known effects, and a small CSV loader.

The simulated effects are deterministic per (cohort, period), so the true
ATT(g,t) and every aggregate of them are known exactly; tests check that the
estimator's confidence intervals cover them at about their nominal rate.
With ``covariates=True`` cohorts differ in a covariate x that also shifts the
outcome's trend: parallel trends then hold only conditional on x, which the
doubly robust estimator with x handles and the unadjusted one does not.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated long panel (``data``: columns id, period, y, first_treat[, x]) and its truth."""

    data: dict[str, np.ndarray]
    periods: np.ndarray
    cohorts: np.ndarray
    theta: np.ndarray  # effect on impact, per cohort
    slope: float  # added effect per period since treatment

    def true_att(self, g: float, t: float) -> float:
        """True ATT(g, t): zero before treatment, theta_g + slope * (t - g) from g on."""
        if g not in self.cohorts:
            raise KeyError(f"no cohort first treated in {g}")
        if t < g:
            return 0.0
        return float(self.theta[np.searchsorted(self.cohorts, g)] + self.slope * (t - g))

    def true_att_cells(self, group: np.ndarray, t: np.ndarray) -> np.ndarray:
        """True ATT for arrays of cells (as in an att_gt result)."""
        return np.array([self.true_att(g, tt) for g, tt in zip(group, t, strict=True)])

    def cohort_shares(self) -> np.ndarray:
        g = self.data["first_treat"][self.data["period"] == self.periods[0]]
        return np.array([np.mean(g == c) for c in self.cohorts])

    def true_dynamic(self, e: int) -> float:
        """True event-study effect at event time e, weighted by cohort shares as aggte weights it."""
        share = self.cohort_shares()
        ok = [(c + e) in self.periods for c in self.cohorts]
        w = share[ok] / share[ok].sum()
        return float(
            sum(wi * self.true_att(c, c + e) for wi, c in zip(w, self.cohorts[ok], strict=True))
        )

    def true_simple(self) -> float:
        """True overall ATT with aggte's "simple" weights (post cells, weighted by cohort share)."""
        share = dict(zip(self.cohorts, self.cohort_shares(), strict=True))
        cells = [(g, t) for g in self.cohorts for t in self.periods if t >= g]
        w = np.array([share[g] for g, _ in cells])
        att = np.array([self.true_att(g, t) for g, t in cells])
        return float(att @ w / w.sum())


def simulate_panel(
    n_units: int = 2000,
    n_periods: int = 6,
    cohorts: tuple[int, ...] | None = None,
    never_share: float = 0.4,
    covariates: bool = False,
    slope: float = 0.2,
    noise: float = 1.0,
    seed: int | None = 0,
) -> SimulatedPanel:
    """Simulate a balanced panel with staggered adoption in periods 1..n_periods.

    Cohorts default to three adoption dates spread over the later periods.
    Units are assigned never-treated with probability about ``never_share`` and
    otherwise split evenly across cohorts (with ``covariates``, the split leans
    on x). Outcome: unit effect + period effect + (with covariates) a trend
    proportional to x + treatment effect + noise.
    """
    if n_periods < 2:
        raise ValueError("n_periods must be at least 2")
    rng = np.random.default_rng(seed)
    periods = np.arange(1, n_periods + 1)
    if cohorts is None:
        first = max(2, n_periods // 3 + 1)
        cohorts = tuple(sorted({int(c) for c in np.linspace(first, n_periods, 3).round()}))
    coh = np.asarray(sorted(cohorts), dtype=np.int64)
    if coh.min() < 2 or coh.max() > n_periods:
        raise ValueError("cohorts must lie in 2..n_periods (period 1 is the common pre-period)")
    theta = np.linspace(0.5, 1.5, coh.size)
    x = rng.standard_normal(n_units)
    # Assignment: log-odds of each cohort against never treated; with covariates the
    # cohorts differ in x, which is what breaks unconditional parallel trends.
    base = math.log((1.0 - never_share) / never_share / coh.size)
    tilt = np.linspace(-0.8, 0.8, coh.size) if covariates else np.zeros(coh.size)
    logits = np.column_stack([np.zeros(n_units), base + x[:, None] * tilt[None, :]])
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    pick = (rng.random(n_units)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    first_treat = np.concatenate([[0], coh])[np.minimum(pick, coh.size)]
    unit_fe = rng.standard_normal(n_units) + 0.3 * (first_treat > 0)
    period_fe = 0.1 * periods + 0.2 * np.sin(periods)
    trend = np.outer(x, periods / n_periods) if covariates else 0.0
    since = periods[None, :] - first_treat[:, None]
    treated = (first_treat[:, None] > 0) & (since >= 0)
    effect = np.zeros((n_units, n_periods))
    idx = np.searchsorted(coh, first_treat)
    eff_all = theta[np.minimum(idx, coh.size - 1)][:, None] + slope * since
    effect[treated] = eff_all[treated]
    y = (
        unit_fe[:, None]
        + period_fe[None, :]
        + trend
        + effect
        + noise * rng.standard_normal((n_units, n_periods))
    )
    data = {
        "id": np.repeat(np.arange(1, n_units + 1), n_periods),
        "period": np.tile(periods, n_units),
        "y": y.ravel(),
        "first_treat": np.repeat(first_treat, n_periods),
    }
    if covariates:
        data["x"] = np.repeat(x, n_periods)
    return SimulatedPanel(data, periods, coh, theta, float(slope))


def load_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read a CSV with a header into column arrays (float where every value parses, else str)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        values = [r[j] for r in rows]
        try:
            out[name] = np.array([float(v) if v not in ("", "NA") else np.nan for v in values])
        except ValueError:
            out[name] = np.array(values)
    return out
