"""``diag profile --pid``: sample a process diag did not start, then leave it running.

py-spy samples from outside and RSS is read from /proc, exactly as for a run
diag starts; what needs diag inside the process (Numba compiles, warnings,
``diagkit.range`` stages) is marked unavailable. Sampling stops after
``--duration``, at Ctrl-C, SIGTERM or SIGHUP to diag (which never pass them on:
the process is not diag's to stop), or when the process exits. Only its parent can
collect the exit status of a process; diag reads it from /proc when it catches
the process as a zombie, and otherwise says it does not know it.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psutil

from diagkit import __version__
from diagkit.collectors.rss import RssSampler
from diagkit.collectors.sampled_time import section_from_sampler
from diagkit.collectors.sampler import PySpySampler, SamplerResult
from diagkit.errors import DiagError
from diagkit.model.report import (
    SCHEMA_VERSION,
    EnvironmentSection,
    JitSection,
    MemorySection,
    NumericsSection,
    Outcome,
    RangesSection,
    Report,
    Target,
    TimeSection,
)
from diagkit.run import pid_checks, stop_signals
from diagkit.run.launch import FAST_RATE, SLOW_AFTER_S, SPEEDSCOPE

T = TypeVar("T")
INSIDE_ONLY = (
    "needs diag inside the process: attached to a running one (start it with diag profile)"
)
POLL_S = 0.1


@dataclass
class AttachOptions:
    pid: int
    out_dir: Path
    duration: float | None = None
    rate: int = FAST_RATE
    slow_rate: int = 0  # after SLOW_AFTER_S (0: ``rate`` throughout)
    native: bool = False
    subprocesses: bool = False
    idle: bool = False
    nonblocking: bool = False
    command: list[str] = field(default_factory=list)


@dataclass
class _End:
    why: str = ""  # "duration" | "signal" | "exited"
    signal: int = 0  # the one diag received, for "signal"
    status: int | None = None  # wait status, when read from a zombie
    cpu: tuple[float, float] = (0.0, 0.0)


def run_attached(
    opts: AttachOptions, on_tick: Callable[[float, int], None] | None = None
) -> Report:
    stops = stop_signals.install()  # before py-spy starts: no signal may leave it sampling
    proc = pid_checks.open_target(opts.pid)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    target = _target(proc)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    sampler = PySpySampler(
        opts.pid,
        opts.out_dir / SPEEDSCOPE,
        rate=opts.rate,
        slow_rate=opts.slow_rate,
        slow_after_s=SLOW_AFTER_S,
        alive=lambda: not pid_checks.gone(proc),
        native=opts.native,
        subprocesses=opts.subprocesses,
        idle=opts.idle,
        nonblocking=opts.nonblocking,
    )
    problem = sampler.start()
    if problem is not None:
        if "refused access" in problem:
            raise DiagError(pid_checks.refusal_message(proc, "sample"), pid_checks.EXIT_REFUSED)
        if pid_checks.gone(proc):
            raise DiagError(f"pid {opts.pid} exited before sampling began", pid_checks.EXIT_GONE)
        if "another tracer holds it" in problem:
            raise DiagError(problem, pid_checks.EXIT_BUSY)
        raise DiagError(problem)
    t0 = time.monotonic_ns()
    hwm_before = _hwm(opts.pid)
    rss = RssSampler(opts.pid, t0)
    rss.start()
    cpu0 = _cpu(proc) or (0.0, 0.0)
    end = _watch(proc, opts.duration, on_tick, rss, cpu0, stops)
    wall = (time.monotonic_ns() - t0) / 1e9
    rss.stop()
    sampled = sampler.stop_now()
    report = Report(
        schema_version=SCHEMA_VERSION,
        diagkit_version=__version__,
        created=created,
        command=opts.command,
        target=target,
        outcome=_outcome(opts.pid, end, wall, cpu0),
        jit=JitSection(available=False, unavailable_reason=INSIDE_ONLY),
        numerics=NumericsSection(available=False, unavailable_reason=INSIDE_ONLY),
        ranges=RangesSection(available=False, unavailable_reason=INSIDE_ONLY),
        environment=_environment(proc, target),
    )
    report.memory = _memory(rss, hwm_before)
    report.time = _time(opts, sampled, wall)
    if report.time.available:
        report.files["speedscope"] = SPEEDSCOPE
    report.notes.append(
        "attached to a running process: Numba compiles, warnings and diagkit.range stages "
        "are only recorded when diag starts the program"
    )
    return report


def _target(proc: psutil.Process) -> Target:
    with proc.oneshot():
        argv = _try(proc.cmdline, [])
        return Target(
            argv=argv or [_try(proc.name, "?")],
            kind="attach",
            cwd=_try(proc.cwd, ""),
            python=_try(proc.exe, ""),
            pid=proc.pid,
        )


def _try(getter: Callable[[], T], default: T) -> T:
    try:
        return getter()
    except psutil.Error:
        return default


def _watch(
    proc: psutil.Process,
    duration: float | None,
    on_tick: Callable[[float, int], None] | None,
    rss: RssSampler,
    cpu0: tuple[float, float],
    stops: stop_signals.StopSignals,
) -> _End:
    """Until the duration is up, SIGINT, SIGTERM or SIGHUP reaches diag, or the process exits."""
    end = _End(cpu=cpu0)
    start = time.monotonic()
    while not stops.woken.wait(POLL_S):
        elapsed = time.monotonic() - start
        if on_tick is not None:
            last = rss.points[-1] if rss.points else None
            on_tick(elapsed, (last.rss + last.children_rss) if last else 0)
        cpu = _cpu(proc)
        if cpu is not None:
            end.cpu = cpu
        if pid_checks.gone(proc):
            end.why, end.status = "exited", _zombie_status(proc.pid)
            return end
        if duration is not None and elapsed >= duration:
            end.why = "duration"
            return end
    end.why = "signal"
    end.signal = stops.stop_signal or signal.SIGINT
    return end


def _cpu(proc: psutil.Process) -> tuple[float, float] | None:
    try:
        t = proc.cpu_times()
        return t.user, t.system
    except psutil.Error:
        return None


def _zombie_status(pid: int) -> int | None:
    """The wait status of a zombie (``/proc/PID/stat`` field 52), before its parent reaps it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        if fields[0] != "Z":
            return None
        return int(fields[49])
    except (OSError, IndexError, ValueError):
        return None


def _outcome(pid: int, end: _End, wall: float, cpu0: tuple[float, float]) -> Outcome:
    out = Outcome(
        kind="detached",
        wall_s=wall,
        cpu_user_s=max(0.0, end.cpu[0] - cpu0[0]),
        cpu_system_s=max(0.0, end.cpu[1] - cpu0[1]),
    )
    if end.why == "signal":
        out.diag_signal = signal.Signals(end.signal).name
    if end.why != "exited":
        how = "after --duration" if end.why == "duration" else "at Ctrl-C"
        if end.signal not in (0, signal.SIGINT):  # a scheduler or a closed terminal ended diag
            how = f"when diag received {out.diag_signal}"
            out.diag_exit_code = 128 + end.signal
        out.detail = f"detached {how}; pid {pid} is still running"
        return out
    status = end.status
    if status is None:
        out.kind, out.detail = "exit", "exited (status unknown: not our child)"
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        out.kind, out.signal, out.signal_name = "signal", sig, signal.Signals(sig).name
        out.detail = f"killed by {out.signal_name} (seen before its parent collected it)"
    else:
        out.kind, out.exit_code = "exit", os.WEXITSTATUS(status)
        out.detail = f"exited with status {out.exit_code} (seen before its parent collected it)"
    return out


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


def _memory(rss: RssSampler, hwm_before: int) -> MemorySection:
    sec = rss.section()
    if not sec.available or rss.hwm > hwm_before:
        return sec  # the high-water mark rose while attached: the exact peak is in the window
    # The process's all-time peak came before diag attached: report the window's own.
    best = max(sec.timeline, key=lambda p: p.rss + p.children_rss)
    sec.peak_rss, sec.peak_t = best.rss + best.children_rss, best.t
    sec.peak_source = (
        "largest sample while attached (the process's all-time high-water mark, "
        f"{hwm_before / 2**20:.1f} MiB, was reached before diag attached)"
    )
    return sec


def _time(opts: AttachOptions, sampled: SamplerResult, wall: float) -> TimeSection:
    return section_from_sampler(
        sampled,
        rate=opts.rate,
        native=opts.native,
        idle=opts.idle,
        wall=wall,
        nonblocking=opts.nonblocking,
        how=", attached by pid",
    )


def _environment(proc: psutil.Process, target: Target) -> EnvironmentSection:
    from diagkit.collectors.environment import recorded_variables

    sec = EnvironmentSection(
        python_executable=target.python,
        platform=platform.platform(),
        machine=platform.machine(),
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 0,
        unavailable_reason="attached to a running process: its interpreter version and "
        "imported packages are not known",
    )
    try:
        env = proc.environ()
    except psutil.Error:
        return sec
    sec.variables = recorded_variables(env)
    return sec
