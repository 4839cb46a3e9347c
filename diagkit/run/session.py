"""Launch a target under the collectors and merge what they saw into one Report.

The target is a child process, so whatever it does (raise, exit, segfault, get
SIGKILLed, hang) the parent still writes the report from the out-of-process
collectors and the channel records that reached disk.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diagkit.collectors.cpu_load import cores_available, cpu_load
from diagkit.collectors.environment import PendingEnvironment
from diagkit.collectors.inproc_results import parse_events
from diagkit.collectors.rss import RssSampler
from diagkit.collectors.run_queue import RunQueue
from diagkit.collectors.sampler import SamplerResult
from diagkit.model.report import (
    EnvironmentSection,
    JitSection,
    Report,
    StacksSection,
    Target,
    TimeSection,
)
from diagkit.model.store import SPEEDSCOPE
from diagkit.run import endings, stop_signals
from diagkit.run.header import Header
from diagkit.run.launch import Child, Launch, ProfileOptions
from diagkit.target.channel import read_events
from diagkit.target.event_kinds import EventKind

Contributor = Callable[[Report, list[dict[str, Any]], int], None]
VERDICT_SPAN_S = 0.5  # how long a thread must sit still at a --timeout to be called stuck


def run_profile(
    opts: ProfileOptions,
    on_tick: Callable[[float, int], None] | None = None,
    contribute: Contributor | None = None,
    launch: Launch | None = None,
    ahead: Iterable[Callable[[], object]] = (),
) -> Report:
    """Run the target once (or see through a ``launch`` already started with ``opts``).

    ``contribute(report, events, t0_ns)`` lets the extra collectors turn their own
    channel records into sections before the channel is deleted. ``ahead``: the caller's
    own work to do while the program starts, if there is time (see ``Launch.overlap``)."""
    stops = stop_signals.install()  # before the child exists: no signal may orphan it
    launch = launch or Launch(opts)
    stops.watch(launch.child, lambda: launch.t0_ns != 0)
    try:
        return _run(opts, launch, stops, on_tick, contribute, ahead)
    finally:
        # Whatever ends the run (a full disk included), the channel in $TMPDIR goes.
        shutil.rmtree(launch.channel, ignore_errors=True)


def _run(
    opts: ProfileOptions,
    launch: Launch,
    stops: stop_signals.StopSignals,
    on_tick: Callable[[float, int], None] | None,
    contribute: Contributor | None,
    ahead: Iterable[Callable[[], object]],
) -> Report:
    child, channel = launch.child, launch.channel
    header = Header(opts.command)
    try:
        # Gathered before the program's first line or after its end, never while it runs.
        environment = PendingEnvironment() if opts.environment else None
        launch.overlap(
            itertools.chain(
                [_import_dump_tools] if opts.timeout is not None else (),
                environment.steps() if environment else (),
                ahead,
            )
        )
        t0 = launch.started()
        sampler_problem = launch.sampler_problem
        run_queue = RunQueue()
        rss = RssSampler(child.pid, t0, threads=launch.sampler.thread_ends, run_queue=run_queue)
        rss.start()
        ending = _watch(child, opts.timeout, on_tick, rss)
        timed_out_stacks = ending.stacks
        rss.stop()
        sampled = launch.sampler.stop() if sampler_problem is None else None
    finally:
        if not child.exited.is_set():  # diag itself failed: the program must not outlive it
            child.stop()
        stops.release(child)
    child.sweep()  # py-spy has ended: diag's children left now are what the target orphaned
    if sampler_problem is not None and child.end_ns <= launch.t0_ns:
        sampler_problem = "the program ended before sampling began"

    events = read_events(str(channel))
    inproc = parse_events(events, inproc_t0 := (_start_ns(events) or t0))
    rss.t0_ns = inproc_t0
    report = header.report(
        Target(
            argv=[opts.target, *opts.args],
            kind=opts.kind,
            cwd=os.getcwd(),
            python=sys.executable,
            pid=child.pid,
        ),
        endings.launched_outcome(
            child,
            inproc.exception,
            ending.timed_out,
            max(0, child.end_ns - inproc_t0) / 1e9,
            inproc.start_cpu,
        ),
        jit=inproc.jit,
        numerics=inproc.numerics,
        gc=inproc.gc,
        logs=inproc.logs,
        ranges=inproc.ranges,
        environment=(
            environment.section(inproc.modules)
            if environment is not None
            else EnvironmentSection(
                available=False, unavailable_reason="not collected in this pass"
            )
        ),
        stacks=timed_out_stacks,
    )
    if opts.wrap is not None and inproc.exit_code is not None and report.outcome.kind == "exit":
        # The launcher's own status may differ from the program's.
        report.outcome.exit_code = report.outcome.diag_exit_code = inproc.exit_code
        report.outcome.detail = f"exited with status {inproc.exit_code}"
    if inproc.bad_target:
        report.outcome.bad_target = inproc.bad_target
        report.outcome.detail = f"bad target: {inproc.bad_target}"
    report.notes.extend(inproc.notes)
    report.memory = rss.section(child.maxrss)
    report.cpu = cpu_load(
        run_queue, rss, cores_available(), {**os.environ, **opts.extra_env}, child.switches
    )
    wall = report.outcome.wall_s
    report.time = _time(opts, sampler_problem, sampled, wall, inproc.jit, run_queue.blocked(wall))
    if sampled is not None and sampled.speedscope is not None:
        problem = _keep(sampled.speedscope, opts.out_dir / SPEEDSCOPE)
        if problem is None:
            report.files["speedscope"] = SPEEDSCOPE
        else:
            report.notes.append(problem)
    if contribute is not None:
        contribute(report, events, inproc_t0)
    return report


def _keep(src: Path, dest: Path) -> str | None:
    """Move a file from the channel into the report folder; None, or why it could not be.

    A full disk or a folder turned read-only costs this file, not the report: the sections
    were read from it already. A half-copied file is removed, as it would pass for a whole one.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), dest)
    except OSError as exc:
        if src.exists():
            with contextlib.suppress(OSError):
                dest.unlink(missing_ok=True)
        return f"{dest.name} was not kept: {exc.strerror or exc}"
    return None


def _start_ns(events: list[dict[str, object]]) -> int | None:
    for ev in events:
        if ev.get("k") == EventKind.START:
            return int(ev["t"])  # type: ignore[call-overload]
    return None


@dataclass
class _Ending:
    timed_out: bool = False
    stacks: StacksSection | None = None


def _watch(
    child: Child,
    timeout: float | None,
    on_tick: Callable[[float, int], None] | None,
    rss: RssSampler,
) -> _Ending:
    """Wait for the child; on timeout take its stacks and stop it. Signals to diag are
    handled by ``stop_signals``, never raised here.

    A first dump ``VERDICT_SPAN_S`` before the deadline tells, at the deadline, which
    threads sat still and which moved, without running the program past its deadline."""
    ending = _Ending()
    ticks = endings.Ticks(child.exited.wait, rss, on_tick)
    earlier: StacksSection | None = None
    idents: dict[int, int] = {}
    for elapsed in ticks:
        if timeout is None or ending.timed_out:
            continue
        if earlier is None and elapsed >= timeout - VERDICT_SPAN_S:
            earlier = _dump_with_cpu(child.pid, ticks.start, idents)
            elapsed = ticks.elapsed()
        if elapsed >= timeout:
            ending.timed_out = True
            ending.stacks = _compared(earlier, _dump_with_cpu(child.pid, ticks.start, idents))
            ending.stacks.reason = ending.stacks.reason or f"timeout after {timeout:g} s"
            child.stop()
    return ending


def _import_dump_tools() -> None:
    """What a --timeout's dumps use: imported for those runs alone, before the program runs."""
    import diagkit.collectors.stacks
    import diagkit.collectors.thread_cpu
    import diagkit.dumping.verdict  # noqa: F401


def _dump_with_cpu(pid: int, start: float, idents: dict[int, int]) -> StacksSection:
    """The stacks, each thread with its CPU time read just before them."""
    from diagkit.collectors import stacks
    from diagkit.collectors.thread_cpu import read_threads

    cpu = read_threads(pid)
    sec = stacks.dump_stacks(pid, idents=idents)
    sec.taken_t = cpu.t - start
    for th in sec.threads:
        th.cpu_s = cpu.cpu.get(th.thread_id)
        th.os_state = cpu.state.get(th.thread_id, th.os_state)
    return sec


def _compared(earlier: StacksSection | None, now: StacksSection) -> StacksSection:
    """``now`` with each thread's verdict against ``earlier``, the one ``diag dump --repeat`` gives."""
    from diagkit.dumping.verdict import is_library_frame, is_python_frame, thread_verdicts

    for th in now.threads:
        th.own_frame = next(
            (f for f in th.frames if is_python_frame(f) and not is_library_frame(f)), None
        )
    if earlier is None or not (earlier.available and now.available):
        return now
    now.compared_s = now.taken_t - earlier.taken_t
    verdicts = {v.thread_id: v for v in thread_verdicts([earlier, now])}
    for th in now.threads:
        v = verdicts.get(th.thread_id)
        th.verdict = v.verdict if v is not None else ""
        th.cpu_share = v.cpu_share if v is not None else None
    return now


def _time(
    opts: ProfileOptions,
    problem: str | None,
    sampled: SamplerResult | None,
    wall: float,
    jit: JitSection,
    blocked: frozenset[int],
) -> TimeSection:
    if problem is not None or sampled is None:
        return TimeSection(available=False, unavailable_reason=problem or "py-spy did not run")
    return opts.sampling.time_section(sampled, wall, compiles=jit.compiles, blocked=blocked)
