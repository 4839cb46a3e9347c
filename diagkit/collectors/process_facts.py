"""What the OS says about a running process: command line, state, CPU, memory, files, children.

Only what the calling user may read is read; a fact the OS refuses is named in
``ProcessFacts.unreadable`` rather than guessed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import psutil

from diagkit.collectors.thread_cpu import ThreadCpu
from diagkit.model.report import ChildProcess, ProcessFacts

T = TypeVar("T")
MAX_OPEN_FILES = 200
_PYTHON_EXE = re.compile(r"^(python|pypy)")


def is_python(proc: psutil.Process) -> bool | None:
    """True for a CPython/PyPy interpreter or a program embedding libpython; None if unreadable."""
    try:
        exe = os.path.basename(proc.exe())
        if _PYTHON_EXE.match(exe):
            return True
        with open(f"/proc/{proc.pid}/maps") as fh:
            return any("libpython" in line or "libpypy" in line for line in fh)
    except (OSError, psutil.AccessDenied):
        pass
    except psutil.Error:
        return False
    # No access to exe or maps (another user's process): judge by the name it runs under.
    try:
        argv0 = os.path.basename((proc.cmdline() or [""])[0])
        return True if _PYTHON_EXE.match(argv0) or _PYTHON_EXE.match(proc.name()) else None
    except psutil.Error:
        return None


def process_facts(
    proc: psutil.Process, before: ThreadCpu | None = None, after: ThreadCpu | None = None
) -> ProcessFacts:
    """Facts about ``proc``; CPU share over the window between ``before`` and ``after``.

    Raises psutil.NoSuchProcess if it has gone.
    """
    facts = ProcessFacts(pid=proc.pid)
    with proc.oneshot():
        facts.name = proc.name()
        facts.ppid = proc.ppid()
        facts.state = proc.status()
        created = proc.create_time()
        facts.started = datetime.fromtimestamp(created).isoformat(timespec="seconds")
        facts.running_s = max(0.0, time.time() - created)
        facts.cmdline = _read(facts, "cmdline", proc.cmdline, [])
        facts.exe = _read(facts, "exe", proc.exe, "")
        facts.cwd = _read(facts, "cwd", proc.cwd, "")
        facts.user = _read(facts, "user", proc.username, "")
        times = _read(facts, "cpu times", proc.cpu_times, None)
        if times is not None:
            facts.cpu_user_s, facts.cpu_system_s = times.user, times.system
        mem = _read(facts, "memory", proc.memory_info, None)
        facts.rss = mem.rss if mem is not None else 0
        facts.threads = _read(facts, "threads", proc.num_threads, 0)
        facts.open_fds = _read(facts, "open fds", proc.num_fds, None)
        files: list[Any] = _read(facts, "open files", proc.open_files, [])
        facts.open_files = [f.path for f in files[:MAX_OPEN_FILES]]
    if before is not None and after is not None and after.t > before.t:
        shared = [tid for tid in after.cpu if tid in before.cpu]
        used = sum(after.cpu[t] - before.cpu[t] for t in shared)
        facts.cpu_share = max(0.0, used) / (after.t - before.t)
    children: list[psutil.Process] = _read(
        facts, "children", lambda: proc.children(recursive=True), []
    )
    for child in children:
        try:
            cmd = " ".join(child.cmdline())
            facts.children.append(ChildProcess(child.pid, child.name(), cmd, is_python(child)))
        except psutil.Error:
            continue  # it ended while we looked
    return facts


def _read(facts: ProcessFacts, what: str, getter: Callable[[], T], default: T) -> T:
    try:
        return getter()
    except psutil.AccessDenied:
        facts.unreadable.append(what)
        return default
    except psutil.ZombieProcess:
        return default
