"""One group-time cell: doubly robust, IPW and outcome-regression DiD on panel data.

Written against an array module ``xp`` (NumPy or CuPy) so the reference path
and the GPU path are the same code. The formulas are those of R's DRDID
(``drdid_panel``, ``std_ipw_did_panel``, ``reg_did_panel``) that ``did::att_gt``
calls for panel data: a logit propensity score fitted by Newton's method, an
OLS outcome regression of the outcome change on the comparison units, and the
influence functions that carry both estimation effects.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from estimator_core.linalg import spd_inverse, spd_solve

METHODS = ("dr", "ipw", "reg")

# Per-cell status codes (shared with the Numba kernels).
OK, NO_TREATED, NO_CONTROLS, PS_SINGULAR, OR_SINGULAR, OVERLAP, REFERENCE = range(7)
# Columns of the per-cell diagnostics array.
D_STATUS, D_NTREAT, D_NCTRL, D_CLIPPED, D_TRIMMED, D_MAXPS, D_ITERS, D_CONVERGED = range(8)
N_DIAG = 8

# DRDID: fitted scores are capped at 1 - 1e-6 so control weights p/(1-p) stay finite, and
# comparison units with p >= 0.995 are trimmed; did::att_gt gives up on a cell (NaN) when
# any score reaches 0.999, as overlap then fails.
PS_CAP = 1.0 - 1e-6
TRIM_LEVEL = 0.995
OVERLAP_LIMIT = 0.999
LOGIT_MAX_ITER = 25  # glm's default maxit
LOGIT_TOL = 1e-8
ETA_CLIP = 700.0  # keeps exp() finite; changes p only below 1e-300


def _host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _solve(xp: Any, a: np.ndarray, m: np.ndarray) -> Any:
    """a^-1 m for a small host matrix, returned on the device (OLS linear representation)."""
    return xp.asarray(spd_solve(a, m)[0])


def logit_fit(xp: Any, x: Any, d: Any) -> tuple[np.ndarray, Any, np.ndarray, int, bool]:
    """Logit MLE by Newton's method: coefficients, fitted probabilities, information, iterations.

    Starts from the intercept-only solution (exact when there are no covariates).
    Newton converges quadratically, so once a step is below 1e-8 the iterate is
    within about 1e-16 of the optimum: implementations that round differently,
    or stop one step apart, still agree to rounding.
    """
    n1, k = x.shape
    pbar = float(d.mean())
    beta = np.zeros(k)
    beta[0] = math.log(pbar / (1.0 - pbar))
    if k == 1:
        # Intercept only: the MLE is p = mean(d) for every unit, no iteration (or exp) needed.
        return beta, xp.full(n1, pbar), np.array([[n1 * pbar * (1.0 - pbar)]]), 0, True
    converged = False
    iters = 0
    while iters < LOGIT_MAX_ITER:
        iters += 1
        p = 1.0 / (1.0 + xp.exp(-xp.clip(x @ xp.asarray(beta), -ETA_CLIP, ETA_CLIP)))
        info = _host((x * (p * (1.0 - p))[:, None]).T @ x)
        score = _host(x.T @ (d - p))
        step, pivot = spd_solve(info, score)
        if pivot == 0.0:
            return beta, p, info, iters, False
        beta = beta + step
        if np.max(np.abs(step)) <= LOGIT_TOL * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
    p = 1.0 / (1.0 + xp.exp(-xp.clip(x @ xp.asarray(beta), -ETA_CLIP, ETA_CLIP)))
    info = _host((x * (p * (1.0 - p))[:, None]).T @ x)
    return beta, p, info, iters, converged


def fit_cell(
    xp: Any, dy: Any, d: Any, x: Any, method: str
) -> tuple[float, Any, np.ndarray, np.ndarray]:
    """ATT and influence function (length n1) of one cell; also diagnostics and k x k matrices.

    ``dy`` is the outcome change, ``d`` 1 for the cohort and 0 for comparison
    units, ``x`` the design with an intercept in column 0. The influence function
    is on the cell's own sample scale (mean over its n1 units).
    """
    n1, k = x.shape
    diag = np.zeros(N_DIAG)
    mats = np.full((2, k, k), np.nan)
    n_treat = float(d.sum())
    diag[D_NTREAT], diag[D_NCTRL] = n_treat, n1 - n_treat
    nan_if = xp.full(n1, np.nan)
    if n_treat == 0:
        diag[D_STATUS] = NO_TREATED
        return math.nan, nan_if, diag, mats
    if n_treat == n1:
        diag[D_STATUS] = NO_CONTROLS
        return math.nan, nan_if, diag, mats
    ctrl = 1.0 - d
    if method in ("dr", "reg"):
        xc = x * ctrl[:, None]
        xtx = _host(xc.T @ x)
        mats[1] = xtx
        coef, pivot = spd_solve(xtx, _host(xc.T @ dy))
        if pivot == 0.0:
            diag[D_STATUS] = OR_SINGULAR
            return math.nan, nan_if, diag, mats
        resid = dy - x @ xp.asarray(coef)
        xtx_n = xtx / n1
    if method in ("dr", "ipw"):
        _, p_raw, info, iters, converged = logit_fit(xp, x, d)
        mats[0] = info
        diag[D_ITERS], diag[D_CONVERGED] = iters, float(converged)
        hess_inv, pivot = spd_inverse(info)
        if pivot == 0.0:
            diag[D_STATUS] = PS_SINGULAR
            return math.nan, nan_if, diag, mats
        max_ps = float(p_raw.max())
        diag[D_MAXPS] = max_ps
        diag[D_CLIPPED] = float((p_raw > PS_CAP).sum())
        if max_ps >= OVERLAP_LIMIT:
            diag[D_STATUS] = OVERLAP
            return math.nan, nan_if, diag, mats
        ps = xp.minimum(p_raw, PS_CAP)
        keep = xp.where(d == 1.0, 1.0, (ps < TRIM_LEVEL) * 1.0)
        diag[D_TRIMMED] = float(n1 - keep.sum())
        # Linear representation of the logit coefficients: score times n1 * (X'WX)^-1.
        ps_lin = (d - ps)[:, None] * x
        hess_n = hess_inv * n1
        w_t = keep * d
        w_c = keep * ps * ctrl / (1.0 - ps)
        mw_t, mw_c = float(w_t.mean()), float(w_c.mean())
    if method == "dr":
        ols_w = ctrl * resid
        eta_t = float((w_t * resid).mean()) / mw_t
        eta_c = float((w_c * resid).mean()) / mw_c
        m1 = _host((w_t[:, None] * x).mean(axis=0))
        m2 = _host(((w_c * (resid - eta_c))[:, None] * x).mean(axis=0))
        m3 = _host((w_c[:, None] * x).mean(axis=0))
        inf_t = (w_t * resid - w_t * eta_t - ols_w * (x @ _solve(xp, xtx_n, m1))) / mw_t
        inf_c = (
            w_c * resid
            - w_c * eta_c
            + ps_lin @ xp.asarray(hess_n @ m2)
            - ols_w * (x @ _solve(xp, xtx_n, m3))
        ) / mw_c
        return eta_t - eta_c, inf_t - inf_c, diag, mats
    if method == "ipw":
        eta_t = float((w_t * dy).mean()) / mw_t
        eta_c = float((w_c * dy).mean()) / mw_c
        m2 = _host(((w_c * (dy - eta_c))[:, None] * x).mean(axis=0))
        inf_t = (w_t * dy - w_t * eta_t) / mw_t
        inf_c = (w_c * dy - w_c * eta_c + ps_lin @ xp.asarray(hess_n @ m2)) / mw_c
        return eta_t - eta_c, inf_t - inf_c, diag, mats
    # Outcome regression: the comparison path is the controls' fitted change at the cohort's x.
    fitted = dy - resid
    md = n_treat / n1
    eta_t = float((d * dy).mean()) / md
    eta_c = float((d * fitted).mean()) / md
    m1 = _host((d[:, None] * x).mean(axis=0))
    inf_t = (d * dy - d * eta_t) / md
    inf_c = (d * fitted - d * eta_c + ctrl * resid * (x @ _solve(xp, xtx_n, m1))) / md
    return eta_t - eta_c, inf_t - inf_c, diag, mats
