"""Small symmetric positive definite solves, written once for NumPy and Numba.

The per-cell models have a handful of parameters, so the k x k systems are tiny.
These loops run as plain Python in the NumPy and CuPy paths and are compiled by
the Numba backend, so every backend decides "singular" by the same rule.
Numba's own ``np.linalg`` needs SciPy's LAPACK bindings, which the project does
not depend on.
"""

from __future__ import annotations

import math

import numpy as np

# A pivot that falls below this fraction of its diagonal entry means the columns
# are linearly dependent to working precision (about 13 of 16 digits cancelled).
SINGULAR_PIVOT = 1e-13


def spd_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Solve ``a @ x = b`` by Cholesky; return ``x`` and the smallest relative pivot.

    The relative pivot (pivot / diagonal entry) is scale-free, so a covariate
    measured in millions does not look singular. When it drops below
    ``SINGULAR_PIVOT`` the solution is all NaN and the pivot is 0.
    """
    k = a.shape[0]
    low = np.zeros((k, k))
    x = np.empty(k)
    worst = 1.0
    for j in range(k):
        s = a[j, j]
        for m in range(j):
            s -= low[j, m] * low[j, m]
        diag = a[j, j]
        if not (diag > 0.0) or not (s > SINGULAR_PIVOT * diag) or not math.isfinite(s):
            x[:] = np.nan
            return x, 0.0
        worst = min(worst, s / diag)
        low[j, j] = math.sqrt(s)
        for i in range(j + 1, k):
            t = a[i, j]
            for m in range(j):
                t -= low[i, m] * low[j, m]
            low[i, j] = t / low[j, j]
    for i in range(k):
        t = b[i]
        for m in range(i):
            t -= low[i, m] * x[m]
        x[i] = t / low[i, i]
    for i in range(k - 1, -1, -1):
        t = x[i]
        for m in range(i + 1, k):
            t -= low[m, i] * x[m]
        x[i] = t / low[i, i]
    return x, worst


def spd_inverse(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse of a symmetric positive definite matrix, column by column via :func:`spd_solve`."""
    k = a.shape[0]
    inv = np.empty((k, k))
    unit = np.zeros(k)
    worst = 1.0
    for j in range(k):
        unit[:] = 0.0
        unit[j] = 1.0
        col, worst = spd_solve(a, unit)
        inv[:, j] = col
    return inv, worst


def scaled_condition(mats: np.ndarray) -> np.ndarray:
    """2-norm condition numbers of Jacobi-scaled matrices (stacked on the first axis).

    Scaling by the diagonal first makes the number describe collinearity rather
    than the units the covariates happen to be measured in.
    """
    mats = np.asarray(mats, dtype=np.float64)
    out = np.full(mats.shape[0], np.inf)
    for i, m in enumerate(mats):
        d = np.diag(m)
        if not np.all(np.isfinite(m)) or np.any(d <= 0):
            continue
        s = 1.0 / np.sqrt(d)
        out[i] = np.linalg.cond(m * s[:, None] * s[None, :])
    return out
