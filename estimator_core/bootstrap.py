"""Multiplier bootstrap: standard errors from the IQR and sup-t uniform critical values.

Mirrors R did's ``mboot``: each draw is sqrt(n) * mean(w_i * psi_i) for
multipliers w_i; the standard error is the draws' interquartile range divided
by that of a standard normal (robust to the occasional wild draw); the uniform
band's critical value (R's ``crit.val``) is the 1 - alp quantile of the largest |t| across
columns. Quantiles are R's type 1, so identical draws give identical numbers.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import numpy as np

from estimator_core import rng
from estimator_core.backends.dispatch import Backend
from estimator_core.stats import norm_ppf, quantile_type1

# R's threshold below which a standard error counts as zero (a degenerate column).
ZERO_SE = math.sqrt(np.finfo(np.float64).eps) * 10.0
IQR_NORMAL = norm_ppf(0.75) - norm_ppf(0.25)


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap draws (biters x K) on R's sqrt(n) scale, standard errors and the sup-t critical value."""

    draws: np.ndarray
    se: np.ndarray
    crit_val: float
    random_state: int
    weights: str


def new_seed() -> int:
    """A fresh 63-bit seed, recorded in results so a run can be repeated exactly."""
    return secrets.randbits(63)


def multiplier_bootstrap(
    inf: np.ndarray,
    *,
    biters: int,
    random_state: int,
    backend: Backend,
    weights: str = "rademacher",
    alp: float = 0.05,
) -> BootstrapResult:
    """Bootstrap the columns of an influence-function matrix ``inf`` (n x K) jointly.

    Columns holding NaN (cells that could not be estimated) are bootstrapped as
    zeros and get a NaN standard error, as do degenerate columns.
    """
    if biters < 2:
        raise ValueError(f"biters must be at least 2, got {biters}")
    inf = np.asarray(inf, dtype=np.float64)
    if inf.ndim == 1:
        inf = inf[:, None]
    n = inf.shape[0]
    mode, lo, hi, threshold = rng.weight_spec(weights)
    usable = np.isfinite(inf.sum(axis=0))
    clean = inf if usable.all() else np.where(usable[None, :], inf, 0.0)
    keys = rng.draw_keys(random_state, 0, biters)
    draws = backend.high_sums(np.ascontiguousarray(clean), keys, mode, threshold)
    # Two-point weights: sum_i w_i psi_i = lo * sum_i psi_i + (hi - lo) * sum_{high} psi_i.
    # In place: the (draws x columns) array is the only thing that grows with biters.
    draws *= hi - lo
    draws += lo * clean.sum(axis=0)
    draws /= math.sqrt(n)
    keep = usable & (np.einsum("bk,bk->k", draws, draws) > ZERO_SE)
    q25, q75 = quantile_type1(draws, (0.25, 0.75))
    sigma = (q75 - q25) / IQR_NORMAL
    sigma = np.where(keep & (sigma > ZERO_SE), sigma, np.nan)
    crit = sup_t_critical_value(draws, sigma, alp)
    return BootstrapResult(draws, sigma / math.sqrt(n), crit, random_state, weights)


def sup_t_critical_value(draws: np.ndarray, sigma: np.ndarray, alp: float) -> float:
    """1 - alp quantile of max_k |draw_k / sigma_k| over columns with a usable sigma."""
    cols = np.isfinite(sigma)
    if not cols.any():
        return math.nan
    scaled = draws[:, cols] / sigma[cols]
    t_max = np.max(np.abs(scaled, out=scaled), axis=1)
    t_max = t_max[np.isfinite(t_max)]
    if t_max.size == 0:
        return math.nan
    return float(quantile_type1(t_max, 1.0 - alp))
