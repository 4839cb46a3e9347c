"""CuPy backend: the NumPy reference code run on a CUDA device.

The arithmetic is the shared array-module code (``estimate_cells_xp``,
``high_sums_xp``), so what runs on the GPU is exactly what the CPU tests run
with ``xp=numpy``. Only the inputs go to the device and only per-cell results,
influence functions and bootstrap sums come back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from estimator_core.backends.numpy_backend import estimate_cells_xp, high_sums_xp
from estimator_core.cells import CellPlan
from estimator_core.errors import BackendUnavailableError
from estimator_core.panel import Panel


class CupyBackend:
    """GPU backend; ``CupyBackend(xp=numpy)`` runs the same code path on the CPU."""

    name = "cupy"

    def __init__(self, xp: Any = None) -> None:
        if xp is None:
            try:
                import cupy
            except ImportError as exc:
                raise BackendUnavailableError(
                    "backend 'cupy' needs CuPy and a CUDA GPU: pip install 'diagkit[gpu]'"
                ) from exc
            xp = cupy
        self.xp = xp

    def estimate_cells(
        self, panel: Panel, plan: CellPlan, method: str, never_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return estimate_cells_xp(self.xp, panel, plan, method, never_only)

    def high_sums(self, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
        return high_sums_xp(self.xp, inf, keys, mode, threshold)
