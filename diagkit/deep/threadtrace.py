"""The tracers in every thread the program starts, on every Python diag supports.

Since 3.12 cProfile runs on ``sys.monitoring``, whose events fire in every thread, and
line_profiler 5 does too; before that, and for line_profiler 4 on any version, each
tool hooks one thread, the one that enables it. A program that does its work in a
thread pool would then show nothing of that work. So where a tool is per-thread,
``threading.setprofile``/``settrace`` start it in each new thread at the thread's
first call: cProfile as a profiler of its own per thread (one profiler fed by several
threads mixes their call stacks), line_profiler as the same instance, which keeps
its timings per thread.

Both tools claim ``sys.monitoring.PROFILER_ID`` by default, and the second to enable
fails with "Another profiling tool is already active": line_profiler gets a tool id
nobody holds instead.
"""

from __future__ import annotations

import cProfile
import sys
import threading
import types
from typing import Any

# Tool ids CPython leaves unnamed (0 debugger, 1 coverage, 2 profiler, 5 optimizer).
_SPARE_TOOL_IDS = (3, 4)
CPROFILE_PER_THREAD = sys.version_info < (3, 12)


def line_profiler_per_thread() -> bool:
    """True where line_profiler traces with ``sys.settrace`` (one thread per enable)."""
    try:
        from line_profiler import _line_profiler
    except ImportError:
        return True
    return bool(getattr(_line_profiler, "USE_LEGACY_TRACE", True))


def claim_tool_id(lp_class: Any) -> None:
    """Point line_profiler at a free ``sys.monitoring`` tool id, leaving PROFILER_ID to cProfile."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None or not hasattr(lp_class, "tool_id") or line_profiler_per_thread():
        return
    for tool in _SPARE_TOOL_IDS:
        if monitoring.get_tool(tool) is None:
            lp_class.tool_id = tool
            return
    raise RuntimeError(
        f"no free sys.monitoring tool id for line_profiler (tried {_SPARE_TOOL_IDS})"
    )


class ThreadTracers:
    """Starts cProfile and line_profiler in each thread started after ``install``."""

    def __init__(self, lp: Any) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lp = lp if lp is not None and line_profiler_per_thread() else None
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if CPROFILE_PER_THREAD:
            threading.setprofile(self._on_profile)
        if self._lp is not None:
            threading.settrace(self._on_trace)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        if CPROFILE_PER_THREAD:
            threading.setprofile(None)  # type: ignore[arg-type]
        if self._lp is not None:
            threading.settrace(None)  # type: ignore[arg-type]
        self._installed = False

    def _on_profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        # Runs once, at the thread's first event: enabling replaces this hook in the thread.
        sys.setprofile(None)
        prof = cProfile.Profile()
        with self._lock:
            self.profiles.append(prof)
        prof.enable()

    def _on_trace(self, frame: types.FrameType, event: str, arg: Any) -> None:
        # Off first: line_profiler created with wrap_trace would otherwise call this hook
        # on every event of the thread.
        sys.settrace(None)
        if self._lp is not None:
            self._lp.enable()
