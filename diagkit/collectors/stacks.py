"""Every thread's stack at one moment: py-spy dump, or the faulthandler file of a process we started."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from diagkit import stackfile
from diagkit.collectors.sampler import PERMISSION_HINT, QUIET_ENV, find_py_spy
from diagkit.report.model import StackFrame, StacksSection, ThreadStack

LOCAL_REPR_MAX = 200


def py_spy_dump(
    pid: int, *, native: bool = False, show_locals: bool = False, timeout: float = 10.0
) -> StacksSection:
    exe = find_py_spy()
    sec = StacksSection(source="py-spy dump", pid=pid)
    if exe is None:
        sec.available, sec.unavailable_reason = False, "py-spy is not on PATH"
        return sec
    cmd = [exe, "dump", "--pid", str(pid), "--json"]
    if native:
        cmd.append("--native")
    if show_locals:
        cmd.append("--locals")
    try:
        env = {**os.environ, **QUIET_ENV}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        sec.available, sec.unavailable_reason = False, f"py-spy dump took over {timeout:.0f} s"
        return sec
    if out.returncode != 0:
        err = " ".join(out.stderr.partition("Stack backtrace:")[0].split())[-300:]
        sec.available = False
        if re.search(r"permission|Operation not permitted|EPERM", err, re.I):
            sec.unavailable_reason = f"py-spy was refused access to pid {pid}: {PERMISSION_HINT}"
        else:
            sec.unavailable_reason = f"py-spy dump failed: {err or 'exit ' + str(out.returncode)}"
        return sec
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        sec.available, sec.unavailable_reason = False, "py-spy dump printed no JSON"
        return sec
    if show_locals:
        from diagkit.collectors.locals_summary import summarise_locals

        summarise_locals(pid, data)
    sec.threads = [_thread(t) for t in data]
    return sec


def _thread(t: dict[str, Any]) -> ThreadStack:
    frames = [
        StackFrame(
            function=f.get("name", "?"),
            file=f.get("filename") or "",
            line=int(f.get("line") or 0),
            native=not (f.get("filename") or "").endswith(".py"),
            locals={lv["name"]: _truncate(lv.get("repr") or "") for lv in (f.get("locals") or [])},
        )
        for f in t.get("frames", [])
    ]
    tid = int(t.get("os_thread_id") or t.get("thread_id") or 0)
    name = t.get("thread_name") or ""
    if not name and tid and tid == t.get("pid"):
        # py-spy reads names from the target's threading module, which a program that
        # never imported it lacks; the thread whose id is the pid is the main thread.
        name = "MainThread"
    return ThreadStack(
        thread_id=tid,
        name=name,
        active=t.get("active"),
        owns_gil=t.get("owns_gil"),
        frames=frames,
    )


def _truncate(text: str) -> str:
    return text if len(text) <= LOCAL_REPR_MAX else text[: LOCAL_REPR_MAX - 3] + "..."


_FH_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+) \(most recent call first\):")
_FH_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')


def faulthandler_dump(pid: int, wait: float = 2.0) -> StacksSection:
    """Ask a process started by ``diag profile`` for its stacks by signal; no ptrace needed."""
    sec = StacksSection(source="faulthandler (signal)", pid=pid)
    path = stackfile.path_for(pid)
    if not path.exists():
        sec.available = False
        sec.unavailable_reason = "the process was not started by diag, so it has no stack file"
        return sec
    if not _answers_stack_signal(pid, path):
        sec.available = False
        sec.unavailable_reason = (
            "the process does not handle the stack signal (not started by diag)"
        )
        return sec
    size = path.stat().st_size
    try:
        os.kill(pid, stackfile.SIGNAL)
    except OSError as exc:
        sec.available, sec.unavailable_reason = False, f"could not signal pid {pid}: {exc.strerror}"
        return sec
    deadline = time.monotonic() + wait
    text = ""
    while time.monotonic() < deadline:
        time.sleep(0.05)
        with open(path) as fh:
            fh.seek(size)
            text = fh.read()
        # faulthandler writes all threads in one go; a pause in growth means it is done.
        if text and text.endswith("\n"):
            time.sleep(0.05)
            if path.stat().st_size == size + len(text.encode()):
                break
    sec.threads = parse_faulthandler(text)
    if not sec.threads:
        sec.available = False
        sec.unavailable_reason = (
            "the process did not answer the stack signal (busy in native code?)"
        )
    return sec


def _answers_stack_signal(pid: int, path: Path) -> bool:
    """Signal only a process that catches the signal and is younger than its stack file.

    SIGUSR2's default action kills; a stack file left by a run that was killed
    names a pid the kernel may since have given to another program.
    """
    import psutil

    try:
        with open(f"/proc/{pid}/status") as fh:
            caught = next(int(ln.split()[1], 16) for ln in fh if ln.startswith("SigCgt:"))
        started = psutil.Process(pid).create_time()
        written = path.stat().st_mtime
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


def dump_stacks(pid: int, **kw: Any) -> StacksSection:
    """py-spy first; when it is refused or fails, the faulthandler path if the process has one."""
    sec = py_spy_dump(pid, **kw)
    if sec.available:
        return sec
    fallback = faulthandler_dump(pid)
    if fallback.available:
        fallback.reason = f"py-spy unavailable ({sec.unavailable_reason}); stacks from faulthandler"
        return fallback
    return sec
