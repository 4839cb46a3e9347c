"""Named stages of the estimator for a profiler: ``diagkit.range`` when diagkit can be imported.

diagkit is an optional integration, not a dependency: ``import estimator_core``
loads none of it, and the first stage imports it (inside a ``diag`` run it is
loaded already, so that costs nothing). Without diagkit a stage is a no-op
context, and the estimator runs the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

_range: Callable[[str], Any] | None = None  # set by the first stage


def stage(name: str) -> Any:
    """A context manager marking the stage ``name`` (``with stage("att_gt.estimate"): ...``)."""
    global _range
    if _range is None:
        _range = _profiler_range()
    return _range(name)


def _profiler_range() -> Callable[[str], Any]:
    try:
        from diagkit import range as profiler_range
    except ImportError:
        return contextlib.nullcontext
    return profiler_range
