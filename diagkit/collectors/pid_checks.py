"""Finding and checking a process that diag did not start: by pid, by command line, its children.

Each check names what is wrong in one line, as the DiagError of its kind (which sets
diag's exit status): a pid that does not exist, a zombie, a program that is not Python,
a kernel that refuses ptrace and what would let it through. Nothing here asks for more privilege than diag has.
"""

from __future__ import annotations

import contextlib
import os
import re
from itertools import pairwise

import psutil

from diagkit.collectors.process_facts import is_python
from diagkit.errors import NotPython, TargetGone, TargetRefused, UsageError

# Any copy of diagkit's bootstrap, this one's or another install's.
BOOTSTRAP_TAIL = os.sep + os.path.join("diagkit", "target", "bootstrap_main.py")

_CAP_SYS_PTRACE = 19


def describe(proc: psutil.Process) -> str:
    """``pid 123 (python train.py --n 5)``, cut to a readable length."""
    try:
        cmd = " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        cmd = "?"
    return f"pid {proc.pid} ({cmd[:80] + '…' if len(cmd) > 80 else cmd})"


def open_target(pid: int) -> psutil.Process:
    """The process behind a pid the user named, or a DiagError saying why it cannot be read."""
    if pid == os.getpid():
        raise UsageError(f"pid {pid} is this diag process itself")
    try:
        proc = psutil.Process(pid)
        status = proc.status()
    except psutil.NoSuchProcess:
        raise TargetGone(f"no process with pid {pid}") from None
    except psutil.AccessDenied:
        raise TargetRefused(f"pid {pid}: the OS will not show this process") from None
    if status == psutil.STATUS_ZOMBIE:
        raise TargetGone(zombie_message(proc))
    if is_python(proc) is False:
        raise NotPython(
            f"{describe(proc)} is not a Python process (its program is {_exe(proc)}): "
            "diag reads the stacks of Python programs"
        )
    return proc


def zombie_message(proc: psutil.Process) -> str:
    try:
        parent = f"its parent (pid {proc.ppid()})"
    except psutil.Error:
        parent = "its parent"
    return (
        f"pid {proc.pid} is a zombie: it has exited and {parent} has not yet collected its exit "
        "status, so it has no stacks left to dump"
    )


def gone(proc: psutil.Process) -> bool:
    """True once the process has exited (a zombie counts), or its pid now names another."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def find_by_name(pattern: str) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """Processes whose command line matches ``pattern`` (a regular expression, like ``pgrep -f``):
    (Python processes, other matches). Never diag itself, its children, another run's diag
    process or the helpers it started (py-spy): only the programs diag runs."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--name {pattern!r}: not a regular expression ({exc})") from None
    own = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        own.update(c.pid for c in psutil.Process().children(recursive=True))
    procs = [
        p
        for p in psutil.process_iter(["cmdline", "name", "status", "ppid"])
        if p.pid not in own and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    diags = {p.pid for p in procs if is_diag_command(p.info["cmdline"] or [])}
    pythons: list[psutil.Process] = []
    others: list[psutil.Process] = []
    for proc in procs:
        words = proc.info["cmdline"] or []
        if proc.pid in diags or (proc.info["ppid"] in diags and not is_diag_target(words)):
            continue
        cmd = " ".join(words) or (proc.info["name"] or "")
        if not rx.search(cmd):
            continue
        (others if is_python(proc) is False else pythons).append(proc)
    return pythons, others


def is_diag_command(words: list[str]) -> bool:
    """A ``diag`` command line: the console script (``[python] .../diag ...``) or
    ``python -m diagkit.cli``."""
    head = words[:3]
    if any(os.path.basename(w) == "diag" for w in head[:2]):
        return True
    return any(w == "-m" and nxt in ("diagkit", "diagkit.cli") for w, nxt in pairwise(head))


def is_diag_target(words: list[str]) -> bool:
    """The program a diag run started (through the bootstrap), which is the user's."""
    return any(w.endswith(BOOTSTRAP_TAIL) for w in words[:3])


def python_descendants(proc: psutil.Process) -> list[psutil.Process]:
    """Every descendant that runs Python (multiprocessing, joblib, Dask workers), in pid order."""
    try:
        kids = proc.children(recursive=True)
    except psutil.Error:
        return []
    return sorted((k for k in kids if is_python(k) is not False), key=lambda k: k.pid)


def refusal_message(proc: psutil.Process, what: str = "read the stacks of") -> str:
    """Why the kernel refuses ptrace here, and what would let it through (one line)."""
    reasons: list[str] = []
    fixes: list[str] = []
    me = os.geteuid()
    try:
        owner = proc.uids().real
        owner_name = proc.username()
    except psutil.Error:
        owner, owner_name = me, "?"
    has_cap = _has_cap_sys_ptrace()
    if owner != me and not has_cap:
        reasons.append(f"it belongs to user {owner_name} (uid {owner}) and diag runs as uid {me}")
        fixes.append(f"run diag as {owner_name} (sudo -u {owner_name} diag ...)")
    scope = _ptrace_scope()
    if scope is not None and scope >= 1 and not has_cap:
        reasons.append(
            f"kernel.yama.ptrace_scope is {scope} (only a parent may read its children)"
            if scope == 1
            else f"kernel.yama.ptrace_scope is {scope} (ptrace is restricted or off)"
        )
        fixes.append("sudo sysctl kernel.yama.ptrace_scope=0")
    if not has_cap:
        reasons.append(
            "diag lacks the SYS_PTRACE capability, which a process that is not dumpable "
            "(prctl PR_SET_DUMPABLE 0, a setuid program) or runs as another user requires; "
            "containers drop it by default"
        )
        fixes.append(
            "in a container add it (docker run --cap-add SYS_PTRACE; Kubernetes: "
            "securityContext.capabilities.add: [SYS_PTRACE])"
        )
    fixes.append("or start the program with 'diag profile', whose stacks need no ptrace")
    why = "; ".join(reasons) or "a security module (AppArmor, SELinux, seccomp) blocked it"
    return f"the kernel refused to let diag {what} {describe(proc)}: {why}. Fix: {'; '.join(fixes)}"


def _exe(proc: psutil.Process) -> str:
    try:
        return proc.exe() or proc.name()
    except psutil.Error:
        return "unknown"


def _ptrace_scope() -> int | None:
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _has_cap_sys_ptrace() -> bool:
    try:
        with open("/proc/self/status") as fh:
            eff = next(int(ln.split()[1], 16) for ln in fh if ln.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(eff >> _CAP_SYS_PTRACE & 1)
