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
from pathlib import Path
from typing import TypeVar

import psutil

from diagkit.collectors import pid_checks
from diagkit.collectors.cpu_load import cores_available, cpu_load
from diagkit.collectors.inproc_results import parse_events
from diagkit.collectors.rss import RssSampler
from diagkit.collectors.run_queue import RunQueue
from diagkit.collectors.sampler import SamplerResult
from diagkit.errors import DiagError, TargetBusy, TargetGone, TargetRefused
from diagkit.model.report import (
    EnvironmentSection,
    JitCompile,
    JitSection,
    MemorySection,
    NumericsSection,
    RangesSection,
    Report,
    Target,
    TimeSection,
)
from diagkit.model.store import SPEEDSCOPE
from diagkit.run import endings, stop_signals
from diagkit.run.endings import Detach
from diagkit.run.header import Header
from diagkit.run.sampling import SamplingOptions
from diagkit.target.channel import read_events

T = TypeVar("T")
INSIDE_ONLY = (
    "needs diag inside the process: attached to a running one (start it with diag profile)"
)


@dataclass
class AttachOptions:
    pid: int
    out_dir: Path
    duration: float | None = None
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    command: list[str] = field(default_factory=list)
    # A process profiling itself (``diagkit.inside``): the folder its own recorders write
    # their events to, and a file diag creates once py-spy is sampling.
    events: Path | None = None
    ready: Path | None = None


def run_attached(
    opts: AttachOptions, on_tick: Callable[[float, int], None] | None = None
) -> Report:
    stops = stop_signals.install()  # before py-spy starts: no signal may leave it sampling
    proc = pid_checks.open_target(opts.pid)
    header = Header(opts.command)
    target = _target(proc)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    sampler = opts.sampling.sampler(
        opts.pid, opts.out_dir / SPEEDSCOPE, alive=lambda: not pid_checks.gone(proc)
    )
    problem = sampler.start()
    if problem is not None:
        if isinstance(sampler.failure, TargetRefused):
            raise TargetRefused(pid_checks.refusal_message(proc, "sample"))
        if pid_checks.gone(proc):
            raise TargetGone(f"pid {opts.pid} exited before sampling began")
        if isinstance(sampler.failure, TargetBusy):
            raise sampler.failure
        raise DiagError(problem)
    t0 = time.monotonic_ns()
    if opts.ready is not None:
        opts.ready.touch()
    hwm_before = _hwm(opts.pid)
    run_queue = RunQueue(from_zero=False)
    rss = RssSampler(
        opts.pid,
        t0,
        threads=sampler.thread_ends,
        run_queue=run_queue,
        skip=frozenset({os.getpid()}),  # diag and its py-spy, where the process is diag's parent
    )
    rss.start()
    cpu0 = _cpu(proc) or (0.0, 0.0)
    end = _watch(proc, opts.duration, on_tick, rss, cpu0, stops)
    wall = (time.monotonic_ns() - t0) / 1e9
    if end.why != "exited":  # a window shorter than a tick has no reading of its own yet
        end.cpu = _cpu(proc) or end.cpu
    rss.stop()
    sampled = sampler.stop_now()
    report = header.report(
        target,
        endings.attached_outcome(opts.pid, end, wall, cpu0),
        jit=JitSection(available=False, unavailable_reason=INSIDE_ONLY),
        numerics=NumericsSection(available=False, unavailable_reason=INSIDE_ONLY),
        ranges=RangesSection(available=False, unavailable_reason=INSIDE_ONLY),
        environment=_environment(proc, target),
    )
    if opts.events is not None:
        if report.outcome.kind == "detached":
            report.outcome.diag_signal = ""
            report.outcome.detail = "profiled from inside for a window; the process runs on"
        inproc = parse_events(read_events(str(opts.events)), t0)
        report.jit, report.numerics, report.ranges = inproc.jit, inproc.numerics, inproc.ranges
        report.gc, report.logs = inproc.gc, inproc.logs
        report.notes.extend(inproc.notes)
    else:
        report.notes.append(
            "attached to a running process: Numba compiles, warnings and diagkit.range stages "
            "are only recorded when diag starts the program"
        )
    report.memory = _memory(rss, hwm_before)
    report.cpu = cpu_load(run_queue, rss, cores_available(opts.pid), _environ(proc))
    report.time = _time(opts, sampled, wall, report.jit.compiles, run_queue.blocked(wall))
    if report.time.available:
        report.files["speedscope"] = SPEEDSCOPE
    return report


def _target(proc: psutil.Process) -> Target:
    with proc.oneshot():
        argv: list[str] = _try(proc.cmdline, [])
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
) -> Detach:
    """Until the duration is up, SIGINT, SIGTERM or SIGHUP reaches diag, or the process exits."""
    end = Detach(cpu=cpu0)
    for elapsed in endings.Ticks(stops.woken.wait, rss, on_tick):
        cpu = _cpu(proc)
        if cpu is not None:
            end.cpu = cpu
        if pid_checks.gone(proc):
            end.why, end.status = "exited", endings.zombie_status(proc.pid)
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


def _time(
    opts: AttachOptions,
    sampled: SamplerResult,
    wall: float,
    compiles: list[JitCompile],
    blocked: frozenset[int],
) -> TimeSection:
    how = ", from inside" if opts.events is not None else ", attached by pid"
    return opts.sampling.time_section(sampled, wall, how=how, compiles=compiles, blocked=blocked)


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


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}
