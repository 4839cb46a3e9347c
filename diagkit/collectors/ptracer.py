"""Yama's ``ptrace_scope=1``: a process may be traced by its ancestors only, unless it names a
tracer itself. py-spy runs under diag's watcher, a child of the process to be sampled, so the
process names the watcher (Yama accepts the named process's descendants too)."""

from __future__ import annotations

import ctypes
import os

PR_SET_PTRACER = 0x59616D61  # "Yama"
SCOPE_FILE = "/proc/sys/kernel/yama/ptrace_scope"


def ptrace_scope() -> int | None:
    """The kernel's Yama setting (0 classic, 1 restricted, 2 admin only, 3 none), None without Yama."""
    try:
        with open(SCOPE_FILE) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def allow_tracer(pid: int) -> str:
    """Let ``pid`` and its descendants trace this process; "" or why that cannot be."""
    scope = ptrace_scope()
    if scope is None or scope == 0:
        return ""  # nothing to allow: an ancestor rule does not apply
    if scope >= 2:
        return (
            f"the kernel allows no process to trace another (Yama ptrace_scope={scope}): "
            "run diag as root or with CAP_SYS_PTRACE, or set kernel.yama.ptrace_scope=1"
        )
    return _prctl(pid)


def clear_tracer() -> None:
    """Name no tracer again once the window has ended."""
    if ptrace_scope() == 1:
        _prctl(0)


def _prctl(pid: int) -> str:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            return f"prctl(PR_SET_PTRACER) failed: {os.strerror(err)}"
    except (OSError, AttributeError) as exc:
        return f"prctl(PR_SET_PTRACER) is not available: {exc}"
    return ""
