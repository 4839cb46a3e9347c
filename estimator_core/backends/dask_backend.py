"""Dask backend: the NumPy reference code, its cells and its bootstrap draws spread over the
workers of the active ``distributed.Client`` (the usual Dask convention: ``Client(...)``
makes itself the default).

The panel and the influence functions go to every worker once (``scatter(broadcast=True)``);
each task fits a chunk of cells (``att_cells``) or sums a chunk of draws (``bootstrap_draws``)
with the NumPy backend's own functions, and the chunks are put back in order, so the answers
are the NumPy backend's for the same seed (the draws' keys are made by the caller).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from estimator_core.backends.numpy_backend import NumpyBackend, estimate_cells_xp
from estimator_core.cells import CellPlan
from estimator_core.errors import BackendUnavailableError
from estimator_core.panel import Panel

CHUNKS_PER_WORKER = 2  # a slow worker holds up the last chunk less


def active_client() -> Any:
    """The default ``distributed.Client``, or a clear error when there is none."""
    try:
        from distributed import get_client
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend 'dask' needs dask.distributed: pip install 'diagkit[dask]'"
        ) from exc
    try:
        return get_client()
    except ValueError:
        raise BackendUnavailableError(
            "backend 'dask' runs on the active distributed.Client, and there is none: "
            "start one first (client = Client(address) or Client(LocalCluster()))"
        ) from None


def att_cells(
    panel: Panel, plan: CellPlan, method: str, never_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One task: the NumPy backend's fits of a chunk of cells."""
    return estimate_cells_xp(np, panel, plan, method, never_only)


def bootstrap_draws(inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
    """One task: the NumPy backend's sums for a chunk of draws."""
    return NumpyBackend().high_sums(inf, keys, mode, threshold)


def _chunks(n: int, client: Any) -> list[np.ndarray]:
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    return [c for c in np.array_split(np.arange(n), min(n, CHUNKS_PER_WORKER * workers)) if c.size]


def _part(plan: CellPlan, idx: np.ndarray) -> CellPlan:
    return CellPlan(**{f.name: getattr(plan, f.name)[idx] for f in fields(plan)})


class DaskBackend:
    name = "dask"

    def estimate_cells(
        self, panel: Panel, plan: CellPlan, method: str, never_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        client = active_client()
        if plan.size == 0:
            return estimate_cells_xp(np, panel, plan, method, never_only)
        shared = client.scatter(panel, broadcast=True, hash=False)
        parts = _chunks(plan.size, client)
        futures = [
            client.submit(att_cells, shared, _part(plan, idx), method, never_only, pure=False)
            for idx in parts
        ]
        results = client.gather(futures)
        k = 1 + len(panel.covariate_names)
        att = np.empty(plan.size)
        inf = np.empty((panel.n, plan.size))
        diag = np.empty((plan.size, results[0][2].shape[1]))
        mats = np.empty((plan.size, 2, k, k))
        for idx, (a, f, d, m) in zip(parts, results, strict=True):
            att[idx], inf[:, idx], diag[idx], mats[idx] = a, f, d, m
        return att, inf, diag, mats

    def high_sums(self, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
        client = active_client()
        if keys.shape[0] == 0:
            return np.empty((0, inf.shape[1]))
        shared = client.scatter(inf, broadcast=True, hash=False)
        parts = _chunks(keys.shape[0], client)
        futures = [
            client.submit(bootstrap_draws, shared, keys[idx], mode, threshold, pure=False)
            for idx in parts
        ]
        return np.vstack(client.gather(futures))
