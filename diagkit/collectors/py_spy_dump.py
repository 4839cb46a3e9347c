"""py-spy dump of one process: retried while another tracer holds it, and never a false diagnosis.

py-spy pauses every thread to read a consistent stack. The kernel answers EPERM
both when it refuses diag and when another tracer (a second py-spy, gdb) holds
a thread at that moment; only the first is a permission problem, and the
kernel's own check (``ptrace_access``) tells them apart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Any

from diagkit.collectors.ptrace_access import describe_tracers, may_ptrace
from diagkit.collectors.sampler import PERMISSION_HINT, QUIET_ENV, find_py_spy
from diagkit.errors import DiagError, NotPython, TargetBusy, TargetRefused
from diagkit.model.report import StackFrame, StacksSection, ThreadStack

LOCAL_REPR_MAX = 200
# py-spy pauses every thread for a dump; when another tracer (a second py-spy, gdb) holds
# one at that moment the kernel says EPERM. Retrying outlasts a sampler's pauses (~1 ms).
RETRY_DELAYS_S = (0.02, 0.05, 0.1, 0.2, 0.3)
HELD = "py-spy could not pause"
_DENIED = re.compile(r"permission|Operation not permitted|EPERM|EACCES", re.I)
_PAUSE = re.compile(r"Failed to suspend|ESRCH", re.I)
_NO_PYTHON = "Failed to find python version"  # py-spy's words for a process without Python


def py_spy_dump(
    pid: int,
    *,
    native: bool = False,
    show_locals: bool = False,
    timeout: float = 10.0,
    idents: dict[int, int] | None = None,
    failures: list[DiagError] | None = None,
) -> StacksSection:
    """``idents``, where given, gains each thread's pthread id -> native thread id;
    ``failures`` gains, when the stacks cannot be had, the error of that kind (a refusal,
    another tracer, no Python in the process) whose message is ``unavailable_reason``."""
    exe = find_py_spy()
    sec = StacksSection(source="py-spy dump", pid=pid)
    if exe is None:
        sec.available, sec.unavailable_reason = False, "py-spy is not on PATH"
        return _failed(sec, DiagError(sec.unavailable_reason), failures)
    cmd = [exe, "dump", "--pid", str(pid), "--json"]
    if native:
        cmd.append("--native")
    if show_locals:
        cmd.append("--locals")
    try:
        answer = _answer(pid, cmd, timeout, sec)
    except subprocess.TimeoutExpired:
        sec.available, sec.unavailable_reason = False, f"py-spy dump took over {timeout:.0f} s"
        return _failed(sec, DiagError(sec.unavailable_reason), failures)
    if isinstance(answer, DiagError):
        sec.available, sec.unavailable_reason = False, answer.message
        return _failed(sec, answer, failures)
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        sec.available, sec.unavailable_reason = False, "py-spy dump printed no JSON"
        return _failed(sec, DiagError(sec.unavailable_reason), failures)
    if show_locals:
        from diagkit.collectors.locals_summary import summarise_locals

        summarise_locals(pid, data)
    sec.threads = [_thread(t) for t in data]
    if idents is not None:
        idents.update(
            (int(t["thread_id"]), int(t["os_thread_id"]))
            for t in data
            if t.get("thread_id") and t.get("os_thread_id")
        )
    return sec


def parse_dump_json(text: str) -> list[ThreadStack]:
    """The threads of one ``py-spy dump --json`` taken elsewhere (by a Dask Nanny, say)."""
    return [_thread(t) for t in json.loads(text)]


def _failed(
    sec: StacksSection, failure: DiagError, failures: list[DiagError] | None
) -> StacksSection:
    if failures is not None:
        failures.append(failure)
    return sec


def _answer(pid: int, cmd: list[str], timeout: float, sec: StacksSection) -> str | DiagError:
    """py-spy's JSON, retried while another tracer holds the process; else why it cannot
    be had, as the error of its kind."""
    started, held, tries = time.monotonic(), "", 0
    for delay in (*RETRY_DELAYS_S, 0.0):
        tries += 1
        code, stdout, stderr = _run_py_spy(cmd, timeout)
        if code == 0:
            return stdout
        if not _worth_retrying(pid, stderr):
            break
        held = describe_tracers(pid) or held
        time.sleep(delay)
    else:
        if "--native" not in cmd:
            # A sampler that pauses the process hundreds of times a second can win every
            # try; reading without pausing needs no attach (native frames would need one).
            code, stdout, _ = _run_py_spy([*cmd, "--nonblocking"], timeout)
            if code == 0:
                sec.source = "py-spy dump --nonblocking"
                sec.reason = (
                    f"{held or 'another tracer'} held the process at each of {tries} tries, so "
                    "it was read without pausing it: a stack may mix two moments"
                )
                return stdout
    return _failure(pid, stderr, code, tries, time.monotonic() - started, held)


def _run_py_spy(cmd: list[str], timeout: float) -> tuple[int, str, str]:
    # A session of its own, so that a Ctrl-C at the terminal never kills py-spy while it
    # holds the target paused; diag lets it finish and detach before it stops itself.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **QUIET_ENV},
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    except KeyboardInterrupt:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()  # a py-spy blocked writing its answer has already let go
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    return proc.returncode, stdout, stderr


def _said(stderr: str) -> str:
    return " ".join(stderr.partition("Stack backtrace:")[0].split())[-300:]


def _worth_retrying(pid: int, stderr: str) -> bool:
    """A refusal although the kernel lets diag trace ``pid``: another tracer held a thread,
    or one ended as py-spy attached. Both pass in milliseconds."""
    said = _said(stderr)
    return bool(_DENIED.search(said) or _PAUSE.search(said)) and may_ptrace(pid) is True


def _failure(pid: int, stderr: str, code: int, tries: int, spent: float, held: str) -> DiagError:
    said = _said(stderr)
    access = may_ptrace(pid)
    if not (_DENIED.search(said) or _PAUSE.search(said)) or access is None:
        # access is None once the process is gone: it did not refuse anything
        failed = f"py-spy dump failed: {said or 'exit ' + str(code)}"
        return NotPython(failed) if _NO_PYTHON in said else DiagError(failed)
    if access is False:
        return TargetRefused(f"py-spy was refused access to pid {pid}: {PERMISSION_HINT}")
    held = held or describe_tracers(pid)
    why = (
        f"another tracer holds it ({held})"
        if held
        else "diag may trace it, so this is no permission problem: another tracer held it "
        "at each try, or a seccomp filter blocks ptrace"
    )
    if not held:
        why += f" (py-spy: {said[-160:]})"
    return TargetBusy(f"{HELD} pid {pid} in {tries} tries over {spent:.1f} s: {why}")


def _thread(t: dict[str, Any]) -> ThreadStack:
    frames = [
        StackFrame(
            function=f.get("name", "?"),
            file=f.get("filename") or "",
            line=int(f.get("line") or 0),
            # "<frozen ...>", "<string>", Dask's "<dynamic-code>": Python code without a file.
            native=not (f.get("filename") or "").endswith(".py")
            and not (f.get("filename") or "").startswith("<"),
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
