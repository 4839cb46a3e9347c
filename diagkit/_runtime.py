"""Process-global hooks that the in-process collectors install while a ``diag`` run is active.

Kept apart from ``api`` so that ``api`` stays a thin, dependency-free layer: when
nothing is installed here, a ``diagkit.range`` costs one attribute load and one
``is None`` test.
"""

from __future__ import annotations

from typing import Protocol


class RangeRecorder(Protocol):
    def push(self, name: str) -> None: ...
    def pop(self, name: str) -> None: ...


# Set by the bootstrap (ranges with host timings) and, on a GPU, wrapped by the
# in-process GPU collector (CUDA events around each range).
recorder: RangeRecorder | None = None
