"""Every thread's stack at one moment: py-spy dump, or the faulthandler file of a process we started."""

from __future__ import annotations

import os
import re
import time
from typing import Any, BinaryIO

from diagkit.collectors.own_frames import program_start
from diagkit.collectors.py_spy_dump import py_spy_dump
from diagkit.errors import DiagError
from diagkit.model.report import StackFrame, StacksSection, ThreadStack
from diagkit.target import stackfile

_FH_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+) \(most recent call first\):")
_FH_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')


def faulthandler_dump(pid: int, wait: float = 2.0) -> StacksSection:
    """Ask a process started by ``diag profile`` for its stacks by signal; no ptrace needed."""
    sec = StacksSection(source="faulthandler (signal)", pid=pid)
    try:
        fh = stackfile.open_for_reading(pid)
    except (OSError, stackfile.UnsafeStackFile) as exc:
        sec.available, sec.unavailable_reason = False, f"the stack file was not read: {exc}"
        return sec
    if fh is None:
        sec.available = False
        sec.unavailable_reason = "the process was not started by diag, so it has no stack file"
        return sec
    with fh:
        if not _answers_stack_signal(pid, fh.fileno()):
            sec.available = False
            sec.unavailable_reason = (
                "the process does not handle the stack signal (not started by diag)"
            )
            return sec
        if not stackfile.written_by(pid, fh):
            sec.available = False
            sec.unavailable_reason = (
                "the program closed diag's stack file descriptor (the stack signal "
                "would write into a file of its own), so it was not sent"
            )
            return sec
        try:
            text = _signal_and_read(pid, fh, wait)
        except OSError as exc:
            sec.available = False
            sec.unavailable_reason = f"could not signal pid {pid}: {exc.strerror}"
            return sec
    sec.threads = parse_faulthandler(text)
    if not sec.threads:
        sec.available = False
        sec.unavailable_reason = (
            "the process did not answer the stack signal (busy in native code?)"
        )
    return sec


def _signal_and_read(pid: int, fh: BinaryIO, wait: float) -> str:
    size = os.fstat(fh.fileno()).st_size
    os.kill(pid, stackfile.SIGNAL)
    deadline = time.monotonic() + wait
    raw = b""
    while time.monotonic() < deadline:
        time.sleep(0.05)
        fh.seek(size)
        raw = fh.read()
        # faulthandler writes all threads in one go; a pause in growth means it is done.
        if raw.endswith(b"\n"):
            time.sleep(0.05)
            if os.fstat(fh.fileno()).st_size == size + len(raw):
                break
    return raw.decode("utf-8", "replace")


def _answers_stack_signal(pid: int, fd: int) -> bool:
    """Signal only a process that catches the signal and is younger than its stack file.

    SIGUSR2's default action kills; a stack file left by a run that was killed
    names a pid the kernel may since have given to another program.
    """
    import psutil

    try:
        with open(f"/proc/{pid}/status") as fh:
            caught = next(int(ln.split()[1], 16) for ln in fh if ln.startswith("SigCgt:"))
        started = psutil.Process(pid).create_time()
        written = os.fstat(fd).st_mtime  # the file opened safely, not its name again
    except (OSError, StopIteration, ValueError, psutil.Error):
        return False
    # The start time is derived from a boot time in whole seconds: allow that much error.
    return bool(caught >> (stackfile.SIGNAL - 1) & 1) and written >= started - 1.5


def parse_faulthandler(text: str) -> list[ThreadStack]:
    threads: list[ThreadStack] = []
    for line in text.splitlines():
        m = _FH_THREAD.match(line)
        if m:
            threads.append(ThreadStack(thread_id=int(m.group(2), 16), name=m.group(1)))
            continue
        f = _FH_FRAME.match(line)
        if f and threads:
            threads[-1].frames.append(
                StackFrame(function=f.group(3), file=f.group(1), line=int(f.group(2)))
            )
    return threads


def dump_stacks(
    pid: int,
    *,
    idents: dict[int, int] | None = None,
    failures: list[DiagError] | None = None,
    **kw: Any,
) -> StacksSection:
    """py-spy first; when it is refused or fails, the faulthandler path if the process has one.

    Threads are named by native id (as py-spy and /proc name them) wherever that can
    be known, and diag's own frames are cut off. ``idents`` (pthread id -> native id)
    carries what py-spy said about the process's threads from one dump to the next.
    ``failures`` gains why py-spy could not dump, as the error of its kind; a section
    that is unavailable says the same in words.
    """
    idents = {} if idents is None else idents
    sec = py_spy_dump(pid, idents=idents, failures=failures, **kw)
    if not sec.available:
        fallback = faulthandler_dump(pid)
        if not fallback.available:
            return sec
        fallback.reason = f"py-spy unavailable ({sec.unavailable_reason}); stacks from faulthandler"
        sec = fallback
        native_thread_ids(sec.threads, idents, _tasks(pid), pid)
    for th in sec.threads:
        _cut_own_frames(th)
    return sec


def native_thread_ids(
    threads: list[ThreadStack], idents: dict[int, int], tasks: list[int], pid: int
) -> None:
    """Renumber faulthandler's threads, which it names by pthread id, by native id.

    py-spy reports both ids of every thread it saw, so those map exactly; a process's
    only thread is its only task. Any other thread keeps its pthread id.
    """
    for th in threads:
        th.thread_id = idents.get(th.thread_id, th.thread_id)
    if len(threads) == 1 and len(tasks) == 1:
        threads[0].thread_id = tasks[0]
    for th in threads:
        if th.thread_id == pid:
            th.name = "MainThread"


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return []


def _cut_own_frames(th: ThreadStack) -> None:
    """Keep the program's frames only: not the bootstrap's or runpy's (frames are leaf first)."""
    start = program_start([(f.function, f.file) for f in reversed(th.frames)])
    th.frames = th.frames[: 0 if start is None else len(th.frames) - start]
