"""Pick the array backend: an explicit ``backend=`` argument, else ``use_backend()``, else auto.

The choice lives in a ``ContextVar`` so that threads and asyncio tasks each see
their own setting, and a ``with use_backend("numpy"):`` block cannot leak into
code running concurrently elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import numpy as np

from estimator_core.errors import BackendUnavailableError

BACKEND_NAMES = ("auto", "numpy", "numba", "cupy", "dask")

_current: ContextVar[str] = ContextVar("estimator_core_backend", default="auto")


class Backend(Protocol):
    """What the estimator needs from a backend: the per-cell fits and the bootstrap sums."""

    name: str

    def estimate_cells(
        self, panel: Any, plan: Any, method: str, never_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """ATT per cell, influence functions (n, K), diagnostics (K, N_DIAG), matrices (K, 2, k, k)."""
        ...

    def high_sums(self, inf: np.ndarray, keys: np.ndarray, mode: int, threshold: int) -> np.ndarray:
        """(B, K): for each draw, the column sums of ``inf`` over units that drew the high weight."""
        ...


@functools.cache
def _numba_status() -> str | None:
    try:
        import numba  # noqa: F401
    except ImportError as exc:  # pragma: no cover - numba is a declared dependency
        return f"numba is not installed ({exc}); pip install numba"
    return None


@functools.cache
def _cupy_status() -> str | None:
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed; pip install 'diagkit[gpu]'"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver or runtime missing
        return f"CuPy is installed but CUDA is not usable ({exc})"
    if count == 0:
        return "CuPy is installed but no CUDA device was found"
    return None


def _dask_status() -> str | None:
    # Not cached: a Client may be started (or closed) between two estimates.
    from estimator_core.backends.dask_backend import active_client

    try:
        active_client()
    except BackendUnavailableError as exc:
        return str(exc).removeprefix("backend 'dask' ")
    return None


def unavailable_reason(name: str) -> str | None:
    """Why a backend cannot run here, or None when it can."""
    if name == "numba":
        return _numba_status()
    if name == "cupy":
        return _cupy_status()
    if name == "dask":
        return _dask_status()
    return None


def available_backends() -> list[str]:
    """Backends that can run on this machine, fastest first ("auto" picks the first; the
    Dask backend is only ever asked for by name, as it needs a cluster)."""
    return [b for b in ("cupy", "numba", "numpy") if unavailable_reason(b) is None]


def _check_name(name: str) -> str:
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {name!r}")
    return name


def resolve_name(name: str | None = None) -> str:
    """The concrete backend an argument (or the context, when None) refers to."""
    chosen = _check_name(name if name is not None else _current.get())
    if chosen == "auto":
        return available_backends()[0]
    reason = unavailable_reason(chosen)
    if reason is not None:
        raise BackendUnavailableError(f"backend '{chosen}' is not available: {reason}")
    return chosen


@functools.cache
def _instance(name: str) -> Backend:
    if name == "numba":
        from estimator_core.backends.numba_backend import NumbaBackend

        return NumbaBackend()
    if name == "cupy":
        from estimator_core.backends.cupy_backend import CupyBackend

        return CupyBackend()
    if name == "dask":
        from estimator_core.backends.dask_backend import DaskBackend

        return DaskBackend()
    from estimator_core.backends.numpy_backend import NumpyBackend

    return NumpyBackend()


def get_backend(name: str | None = None) -> Backend:
    """Backend object for a name; None means the current ``use_backend`` setting."""
    return _instance(resolve_name(name))


@contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run the enclosed estimation on one backend: ``with use_backend("numba"): att_gt(...)``.

    The name is checked on entry, so an unavailable backend fails here and not
    deep inside the first estimate.
    """
    backend = get_backend(_check_name(name))
    token = _current.set(name)
    try:
        yield backend
    finally:
        _current.reset(token)


def current_backend() -> str:
    """The name set by the innermost ``use_backend`` block ("auto" outside any)."""
    return _current.get()
