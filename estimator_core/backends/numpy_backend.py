"""NumPy reference backend, and the array-module drivers it shares with the CuPy backend.

``estimate_cells_xp`` and ``high_sums_xp`` take the array module as an argument:
with ``xp=numpy`` they run the GPU code path on the CPU, which is how that path
is tested on machines without a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from estimator_core import rng
from estimator_core.cells import CellPlan, cell_members
from estimator_core.estimators import D_STATUS, METHODS, N_DIAG, REFERENCE, fit_cell
from estimator_core.panel import Panel

# Draws are processed in chunks so a chunk's (draws x units) 0/1 matrix stays near this
# many elements (32 MiB as float64), whatever the number of draws.
CHUNK_ELEMENTS = 1 << 22


def _host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


def estimate_cells_xp(
    xp: Any, panel: Panel, plan: CellPlan, method: str, never_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit every cell with :func:`fit_cell` on arrays of module ``xp``; results come back on the host."""
    if method not in METHODS:
        raise ValueError(f"est_method must be one of {METHODS}, got {method!r}")
    n, n_cells = panel.n, plan.size
    k = 1 + len(panel.covariate_names)
    y = xp.asarray(panel.y)
    group = xp.asarray(panel.group)
    x = None if panel.x is None else xp.asarray(panel.x)
    att = np.full(n_cells, np.nan)
    inf = xp.zeros((n, n_cells))
    diag = np.zeros((n_cells, N_DIAG))
    mats = np.full((n_cells, 2, k, k), np.nan)
    for c in range(n_cells):
        if plan.reference[c]:
            att[c] = 0.0
            diag[c, D_STATUS] = REFERENCE
            continue
        t, b = int(plan.t_idx[c]), int(plan.base_idx[c])
        treated, control = cell_members(group, plan.group[c], plan.cutoff[c], never_only)
        idx = xp.flatnonzero(treated | control)
        n1 = int(idx.shape[0])
        d = treated[idx].astype(xp.float64)
        dy = y[t, idx] - y[b, idx]
        design = xp.ones((n1, k))
        if x is not None:
            design[:, 1:] = x[min(t, b)][idx]
        att[c], f, diag[c], mats[c] = fit_cell(xp, dy, d, design, method)
        if np.isnan(att[c]):
            inf[:, c] = np.nan
        else:
            # The cell's influence function lives on its own n1 units; on the full sample
            # of n units it is scaled by n / n1 and is zero for units outside the cell.
            inf[idx, c] = f * (n / n1)
    return att, _host(inf), diag, mats


def high_sums_xp(
    xp: Any, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int
) -> np.ndarray:
    """(B, K) sums of influence-function rows over each draw's high-weight units, chunked by draw."""
    n, n_cols = inf.shape
    dinf = xp.asarray(inf)
    dkeys = xp.asarray(keys)
    out = np.empty((keys.shape[0], n_cols))
    # The generic bit extraction makes 8 bytes per bit before reducing, hence the 8x smaller chunk.
    step = max(1, min(keys.shape[0], CHUNK_ELEMENTS // 8 // max(n, 1)))
    for b0 in range(0, keys.shape[0], step):
        bits = rng.unit_bits(xp, dkeys[b0 : b0 + step], n, mode, threshold)
        out[b0 : b0 + step] = _host(bits.astype(xp.float64) @ dinf)
    return out


class NumpyBackend:
    """Reference implementation: vectorised NumPy, BLAS for the bootstrap sums."""

    name = "numpy"
    xp = np

    def estimate_cells(
        self, panel: Panel, plan: CellPlan, method: str, never_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return estimate_cells_xp(np, panel, plan, method, never_only)

    def high_sums(self, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
        n, n_cols = inf.shape
        out = np.empty((keys.shape[0], n_cols))
        step = max(1, min(keys.shape[0], CHUNK_ELEMENTS // max(n, 1)))
        weights = np.empty((step, n))
        for b0 in range(0, keys.shape[0], step):
            bits = rng.unit_bits_numpy(keys[b0 : b0 + step], n, mode, threshold)
            w = weights[: bits.shape[0]]
            np.copyto(w, bits)
            np.matmul(w, inf, out=out[b0 : b0 + bits.shape[0]])
        return out
