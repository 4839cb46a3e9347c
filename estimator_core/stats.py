"""Distribution functions and R-compatible quantiles, without SciPy.

SciPy is not a dependency of the project, and the estimator needs only a few
scalar functions: the normal cdf and quantile (critical values, IQR scaling)
and the chi-square survival function (pre-trend Wald test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

# Acklam's rational approximation (relative error < 1.2e-9), polished below
# with one Halley step on erfc so the result is accurate to double precision.
_A = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.3577518672690,
    -30.66479806614716,
    2.506628277459239,
)
_B = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_C = (
    -7.784894002430293e-03,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_D = (7.784695709041462e-03, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def norm_cdf(x: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile function (inverse of :func:`norm_cdf`)."""
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"probability must lie in [0, 1], got {p}")
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = _tail(q)
    elif p > 1.0 - plow:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -_tail(q)
    else:
        q = p - 0.5
        r = q * q
        num = ((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]
        den = ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0
        x = num * q / den
    e = norm_cdf(x) - p
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


def _tail(q: float) -> float:
    num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
    den = (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
    return num / den


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square(df): the regularized upper incomplete gamma Q(df/2, x/2)."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if x <= 0.0:
        return 1.0
    a = 0.5 * df
    z = 0.5 * x
    if z < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, z))
    return _gamma_q_fraction(a, z)


def _gamma_p_series(a: float, z: float) -> float:
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(10_000):
        ap += 1.0
        term *= z / ap
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-z + a * math.log(z) - math.lgamma(a))


def _gamma_q_fraction(a: float, z: float) -> float:
    # Modified Lentz evaluation of the continued fraction for Q(a, z).
    tiny = 1e-300
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(-z + a * math.log(z) - math.lgamma(a)) * h


def quantile_type1(values: np.ndarray, prob: float | Sequence[float], axis: int = 0) -> Any:
    """R's ``quantile(x, prob, type=1)`` (inverse empirical cdf) along ``axis``, ignoring NaN.

    ``prob`` may be a sequence, which sorts once for all of them. The fuzz
    mirrors R's so that ``n * prob`` landing a rounding error above an integer
    picks the same order statistic R picks.
    """
    x = np.sort(np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0), axis=0)
    counts = (~np.isnan(x)).sum(axis=0)
    fuzz = 4.0 * np.finfo(np.float64).eps
    out = []
    for p in np.atleast_1d(prob):
        nppm = counts * p
        j = np.floor(nppm + fuzz).astype(np.int64)
        # 1-based order statistic j + (nppm > j), clamped to [1, n] as R does.
        order = np.clip(j + (nppm > j), 1, np.maximum(counts, 1)) - 1
        picked = np.take_along_axis(x, order[np.newaxis, ...], axis=0)[0]
        out.append(np.where(counts > 0, picked, np.nan))
    return out[0] if np.ndim(prob) == 0 else out
