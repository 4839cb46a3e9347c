"""Array backends: NumPy (reference), Numba (compiled CPU), CuPy (GPU), and the dispatch between them."""

from estimator_core.backends.dispatch import (
    BACKEND_NAMES,
    Backend,
    available_backends,
    current_backend,
    get_backend,
    resolve_name,
    use_backend,
)

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "available_backends",
    "current_backend",
    "get_backend",
    "resolve_name",
    "use_backend",
]
