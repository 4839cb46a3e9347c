"""Numba backend: compiled per-cell fits and bootstrap sums (see numba_cells, numba_boot).

Inputs are normalised to float64 / int64 C arrays before every kernel call so
each kernel compiles exactly once (and is then loaded from the on-disk cache).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from estimator_core.backends import numba_boot, numba_cells
from estimator_core.cells import CellPlan
from estimator_core.estimators import D_STATUS, METHODS, N_DIAG, REFERENCE
from estimator_core.panel import Panel

# The per-segment partial sums (segments x draws-per-chunk x columns) stay under this many
# elements, and a chunk holds at most MAX_CHUNK draws, so their memory does not grow with
# biters. 1,024 draws per chunk amortise each 256-row table over 4x as many lookups.
PARTIAL_ELEMENTS = 1 << 21
MAX_CHUNK = 1024
MAX_SEGMENTS = 64
MIN_SEGMENT_WORDS = 32  # 2,048 units: enough work per task to amortise the table builds


class NumbaBackend:
    """CPU backend compiled with Numba; agrees with the NumPy reference to rounding."""

    name = "numba"

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0

    def _workers(self, n_tasks: int) -> ThreadPoolExecutor | None:
        """A pool kept between calls (starting threads per call costs more than small fits)."""
        size = min(numba.get_num_threads(), n_tasks)
        if size <= 1:
            return None
        if self._pool is None or self._pool_size != size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="att_gt-cells")
            self._pool_size = size
        return self._pool

    def estimate_cells(
        self, panel: Panel, plan: CellPlan, method: str, never_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if method not in METHODS:
            raise ValueError(f"est_method must be one of {METHODS}, got {method!r}")
        n, n_cells = panel.n, plan.size
        kc = len(panel.covariate_names)
        xcov = panel.x if panel.x is not None else np.empty((panel.times.shape[0], n, 0))
        att = np.empty(n_cells)
        inf = np.zeros((n, n_cells))
        diag = np.zeros((n_cells, N_DIAG))
        mats = np.full((n_cells, 2, kc + 1, kc + 1), np.nan)
        args = (
            np.ascontiguousarray(panel.y, dtype=np.float64),
            np.ascontiguousarray(panel.group, dtype=np.float64),
            np.ascontiguousarray(xcov, dtype=np.float64),
        )
        method_code = METHODS.index(method)

        def run(c: int) -> None:
            if plan.reference[c]:
                att[c] = 0.0
                diag[c, D_STATUS] = REFERENCE
                return
            numba_cells.one_cell(
                *args,
                c,
                float(plan.group[c]),
                int(plan.t_idx[c]),
                int(plan.base_idx[c]),
                float(plan.cutoff[c]),
                bool(never_only),
                method_code,
                att,
                inf,
                diag,
                mats,
            )

        pool = self._workers(n_cells)
        if pool is None:
            for c in range(n_cells):
                run(c)
        else:
            # The kernel releases the GIL; each cell writes only its own column.
            list(pool.map(run, range(n_cells)))
        return att, inf, diag, mats

    def high_sums(self, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
        n, n_cols = inf.shape
        draws = keys.shape[0]
        inf = np.ascontiguousarray(inf, dtype=np.float64)
        n_words = -(-n // 64)
        seg_words = max(MIN_SEGMENT_WORDS, math.ceil(n_words / MAX_SEGMENTS))
        n_seg = -(-n_words // seg_words)
        per_chunk = min(draws, MAX_CHUNK, max(64, PARTIAL_ELEMENTS // (n_seg * n_cols)))
        partial = np.empty((n_seg, per_chunk, n_cols))
        out = np.empty((draws, n_cols))
        thr = np.uint64(threshold)
        for b0 in range(0, draws, per_chunk):
            count = min(per_chunk, draws - b0)
            chunk_keys = np.ascontiguousarray(keys[b0 : b0 + count], dtype=np.uint64)
            numba_boot.high_sums_chunk(inf, chunk_keys, count, int(mode), thr, seg_words, partial)
            # Fixed-order sum over segments: the same result for any thread count.
            out[b0 : b0 + count] = partial[:, :count].sum(axis=0)
        return out
