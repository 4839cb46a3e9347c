"""Whether diag may ptrace a process, asked of the kernel without touching the process.

py-spy says EPERM both when the kernel refuses diag and when another tracer
(a second py-spy, gdb, strace) has the thread attached at that moment: only
the first is a permission problem. Opening ``/proc/PID/mem`` goes through the
kernel's own ptrace-attach check (uids, dumpable, CAP_SYS_PTRACE, Yama, LSMs)
without attaching or pausing anything, so its answer separates the two.
Standard library only: the sampler imports this before diag's heavy modules.
"""

from __future__ import annotations

import errno
import os


def may_ptrace(pid: int) -> bool | None:
    """True when the kernel lets this process attach to ``pid``, False when it refuses,
    None when it cannot be told (no such process, no /proc)."""
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError as exc:
        return False if exc.errno in (errno.EACCES, errno.EPERM) else None
    os.close(fd)
    return True


def tracers(pid: int) -> list[int]:
    """The pids of whatever is ptrace-attached to any thread of ``pid`` (usually none)."""
    found: set[int] = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as fh:
                line = next((ln for ln in fh if ln.startswith("TracerPid:")), "TracerPid: 0")
        except OSError:
            continue  # the thread ended while we listed them
        tracer = int(line.split()[1])
        if tracer and tracer != os.getpid():
            found.add(tracer)
    return sorted(found)


def describe_tracers(pid: int) -> str:
    """``pid 123 (py-spy record --pid 9 ...)`` for each tracer of ``pid``, or ""."""
    names = []
    for tracer in tracers(pid):
        try:
            with open(f"/proc/{tracer}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            cmd = ""
        cmd = cmd if len(cmd) <= 60 else cmd[:59] + "…"
        names.append(f"pid {tracer} ({cmd})" if cmd else f"pid {tracer}")
    return ", ".join(names)
