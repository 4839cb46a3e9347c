"""Turn the per-cell diagnostics the backends return into warnings.

Kernels cannot warn, so every backend fills the same diagnostics array and the
warnings are raised here, once per kind of problem rather than once per cell.
"""

from __future__ import annotations

import warnings

import numpy as np

from estimator_core import estimators as est
from estimator_core.cells import CellPlan
from estimator_core.errors import NumericWarning, PanelDataWarning
from estimator_core.linalg import scaled_condition
from estimator_core.summary import fmt_period

# Condition number (after scaling columns to unit diagonal) above which a design is flagged:
# about 10 of 16 significant digits can be lost in the solve.
NEAR_SINGULAR = 1e10
_REASONS = {
    est.NO_TREATED: "no units of the group",
    est.NO_CONTROLS: "no comparison units",
    est.PS_SINGULAR: "singular propensity-score design (collinear covariates)",
    est.OR_SINGULAR: "singular outcome-regression design (too few comparison units "
    "or collinear covariates)",
    est.OVERLAP: "overlap violated (a propensity score >= 0.999)",
}


def _cells(plan: CellPlan, which: np.ndarray, limit: int = 6) -> str:
    idx = np.flatnonzero(which)
    text = ", ".join(
        f"({fmt_period(plan.group[c])}, {fmt_period(plan.time[c])})" for c in idx[:limit]
    )
    return text + (f" and {idx.size - limit} more" if idx.size > limit else "")


def warn_small_groups(group: np.ndarray, n_covariates: int) -> None:
    """R's did warns about cohorts with fewer than (covariates + 5) units; so do we."""
    values, counts = np.unique(group, return_counts=True)
    small = values[counts < n_covariates + 5]
    if small.size:
        warnings.warn(
            "some groups are small, estimates for them are fragile: "
            + ", ".join(
                f"{fmt_period(g)} ({c} units)"
                for g, c in zip(values, counts, strict=True)
                if g in small
            ),
            PanelDataWarning,
            stacklevel=3,
        )


def report_cells(plan: CellPlan, diag: np.ndarray, mats: np.ndarray, method: str) -> None:
    """Warn about cells left NaN and about clipped, trimmed or ill-conditioned fits."""
    status = diag[:, est.D_STATUS]
    for code, reason in _REASONS.items():
        hit = status == code
        if hit.any():
            category = (
                NumericWarning if code in (est.PS_SINGULAR, est.OVERLAP) else PanelDataWarning
            )
            warnings.warn(
                f"ATT(g,t) set to NaN for {int(hit.sum())} cells, {reason}: {_cells(plan, hit)}",
                category,
                stacklevel=3,
            )
    fitted = status == est.OK
    if method != "reg":
        clipped = diag[fitted, est.D_CLIPPED].sum()
        trimmed = diag[fitted, est.D_TRIMMED].sum()
        if clipped or trimmed:
            warnings.warn(
                f"propensity scores: {int(clipped)} capped at 1 - 1e-6 and {int(trimmed)} "
                f"comparison units with p >= {est.TRIM_LEVEL} given zero weight, in cells "
                f"{_cells(plan, fitted & ((diag[:, est.D_CLIPPED] + diag[:, est.D_TRIMMED]) > 0))}",
                NumericWarning,
                stacklevel=3,
            )
        stuck = fitted & (diag[:, est.D_CONVERGED] == 0)
        if stuck.any():
            warnings.warn(
                f"propensity-score logit did not converge in {est.LOGIT_MAX_ITER} Newton steps "
                f"for cells {_cells(plan, stuck)}",
                NumericWarning,
                stacklevel=3,
            )
    for slot, what in ((0, "propensity-score information matrix"), (1, "outcome-regression X'X")):
        if mats.shape[2] == 1 or not np.isfinite(mats[:, slot]).any():
            continue  # an intercept alone cannot be ill-conditioned
        cond = scaled_condition(mats[:, slot])
        bad = fitted & np.isfinite(mats[:, slot]).all(axis=(1, 2)) & (cond > NEAR_SINGULAR)
        if bad.any():
            warnings.warn(
                f"near-singular {what} (scaled condition number up to {cond[bad].max():.3g}) "
                f"in cells {_cells(plan, bad)}; covariates are nearly collinear",
                NumericWarning,
                stacklevel=3,
            )


def check_finite(name: str, values: np.ndarray) -> bool:
    """Warn when ``values`` holds NaN or infinity; return whether all are finite."""
    finite = np.isfinite(values)
    bad = int(finite.size - int(finite.sum()))
    if bad:
        warnings.warn(
            f"{name}: {bad} of {finite.size} values are not finite",
            NumericWarning,
            stacklevel=3,
        )
    return bad == 0


def check_psd(name: str, v: np.ndarray) -> bool:
    """Warn if a variance matrix has a clearly negative eigenvalue (it should be PSD)."""
    finite = np.isfinite(v).all(axis=0)
    sub = v[np.ix_(finite, finite)]
    if sub.size == 0:
        return True
    eig = np.linalg.eigvalsh(0.5 * (sub + sub.T))
    tol = 1e-10 * max(float(np.abs(eig).max()), np.finfo(np.float64).tiny)
    if eig.min() < -tol:
        warnings.warn(
            f"{name} is not positive semi-definite (smallest eigenvalue {eig.min():.3g})",
            NumericWarning,
            stacklevel=3,
        )
        return False
    return True
