"""Annotations for estimator code: stage ranges and numeric checks.

``range`` marks a stage. Inside a ``diag`` run its wall time lands in the report;
under Nsight Systems it is also an NVTX range. Outside both it costs about a
plain function call, because NVTX is only touched when an NVTX tool is injected
(importing the ``nvtx`` package alone costs ~0.25 s).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from diagkit import _runtime

F = TypeVar("F", bound=Callable[..., Any])

_NVTX_DOMAIN = "diagkit"


def _nvtx_pair() -> tuple[Callable[[str], None], Callable[[], None]] | None:
    # Nsight Systems (and other NVTX tools) announce themselves through these
    # variables; without one, NVTX calls would be no-ops that still cost an import.
    if not (os.environ.get("NVTX_INJECTION64_PATH") or os.environ.get("NSYS_PROFILING_SESSION_ID")):
        return None
    try:
        import nvtx
    except ImportError:
        return None
    domain = nvtx.get_domain(_NVTX_DOMAIN)

    def push(name: str) -> None:
        domain.push_range(domain.get_event_attributes(message=name))

    def pop() -> None:
        domain.pop_range()

    return push, pop


_nvtx = _nvtx_pair()


class range:
    """Mark a stage of the program: ``with diagkit.range("bootstrap"):`` or ``@diagkit.range("fit")``.

    One instance may be entered from several threads and recursively: the timing
    state lives with the recorder (per thread), never on the instance.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("diagkit.range needs a non-empty string name")
        self.name = name

    def __enter__(self) -> range:
        rec = _runtime.recorder
        if rec is not None:
            rec.push(self.name)
        if _nvtx is not None:
            _nvtx[0](self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        if _nvtx is not None:
            _nvtx[1]()
        rec = _runtime.recorder
        if rec is not None:
            rec.pop(self.name)

    def __call__(self, func: F) -> F:
        name = self.name

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            rec = _runtime.recorder
            if rec is None and _nvtx is None:
                return func(*args, **kwargs)
            with range(name):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class NumericWarning(RuntimeWarning):
    """A numeric safeguard fired: non-finite values, clipping, ill-conditioning."""


def check_finite(name: str, values: Any, *, stacklevel: int = 2) -> bool:
    """Warn (NumericWarning) when ``values`` holds NaN or infinity; return whether all are finite.

    Works on anything with NumPy's array protocol, CuPy arrays included (the
    count is taken on the device and only a scalar crosses back).
    """
    xp = _array_module(values)
    finite = xp.isfinite(values)
    bad = int(finite.size - int(finite.sum()))
    if bad:
        warnings.warn(
            f"{name}: {bad} of {finite.size} values are not finite",
            NumericWarning,
            stacklevel=stacklevel,
        )
    return bad == 0


def _array_module(values: Any) -> Any:
    mod = type(values).__module__.split(".", 1)[0]
    if mod == "cupy":
        import cupy

        return cupy
    import numpy

    return numpy
