"""Launch a target under the collectors and merge what they saw into one Report.

The target is a child process, so whatever it does (raise, exit, segfault, get
SIGKILLed, hang) the parent still writes the report from the out-of-process
collectors and the channel records that reached disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from diagkit import __version__
from diagkit.collectors import stacks
from diagkit.collectors.environment import DistributionIndex, environment_section
from diagkit.collectors.inproc_results import parse_events
from diagkit.collectors.rss import RssSampler
from diagkit.collectors.sampled_time import section_from_sampler
from diagkit.collectors.sampler import SamplerResult
from diagkit.inproc.channel import read_events
from diagkit.launch import SPEEDSCOPE, Child, Launch, ProfileOptions
from diagkit.report.model import (
    SCHEMA_VERSION,
    EnvironmentSection,
    ExceptionInfo,
    Outcome,
    Report,
    StacksSection,
    Target,
    TimeSection,
)

Contributor = Callable[[Report, list[dict[str, Any]], int], None]


def run_profile(
    opts: ProfileOptions,
    on_tick: Callable[[float, int], None] | None = None,
    contribute: Contributor | None = None,
    launch: Launch | None = None,
) -> Report:
    """Run the target once (or see through a ``launch`` already started with ``opts``).

    ``contribute(report, events, t0_ns)`` lets the extra collectors turn their own
    channel records into sections before the channel is deleted."""
    launch = launch or Launch(opts)
    child, channel = launch.child, launch.channel
    created = datetime.now(UTC).isoformat(timespec="seconds")
    dist_index = DistributionIndex() if opts.environment else None
    t0 = launch.started()
    sampler_problem = launch.sampler_problem
    rss = RssSampler(child.pid, t0)
    rss.start()
    ending = _watch(child, opts.timeout, on_tick, rss)
    timed_out_stacks = ending.stacks
    rss.stop()
    sampled = launch.sampler.stop() if sampler_problem is None else None

    events = read_events(str(channel))
    inproc = parse_events(events, inproc_t0 := (_start_ns(events) or t0))
    rss.t0_ns = inproc_t0
    report = Report(
        schema_version=SCHEMA_VERSION,
        diagkit_version=__version__,
        created=created,
        command=opts.command,
        target=Target(
            argv=[opts.target, *opts.args],
            kind=opts.kind,
            cwd=os.getcwd(),
            python=sys.executable,
            pid=child.pid,
        ),
        outcome=_outcome(child, inproc.exception, ending, (child.end_ns - inproc_t0) / 1e9),
        jit=inproc.jit,
        numerics=inproc.numerics,
        ranges=inproc.ranges,
        environment=(
            environment_section(inproc.modules, dist_index)
            if dist_index is not None
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
        report.outcome.detail = f"bad target: {inproc.bad_target}"
    report.memory = rss.section(child.maxrss)
    report.time = _time(opts, sampler_problem, sampled, report.outcome.wall_s)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    if sampled is not None and sampled.speedscope is not None:
        shutil.move(str(sampled.speedscope), opts.out_dir / SPEEDSCOPE)
        report.files["speedscope"] = SPEEDSCOPE
    if contribute is not None:
        contribute(report, events, inproc_t0)
    shutil.rmtree(channel, ignore_errors=True)
    return report


def _start_ns(events: list[dict[str, object]]) -> int | None:
    for ev in events:
        if ev.get("k") == "start":
            return int(ev["t"])  # type: ignore[call-overload]
    return None


@dataclass
class _Ending:
    timed_out: bool = False
    interrupted: bool = False
    stacks: StacksSection | None = None


def _watch(
    child: Child,
    timeout: float | None,
    on_tick: Callable[[float, int], None] | None,
    rss: RssSampler,
) -> _Ending:
    """Wait for the child; on timeout take its stacks and stop it. Ctrl-C never raises here."""
    ending = _Ending()
    presses = 0

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        ending.interrupted = True

    old_int = signal.signal(signal.SIGINT, on_sigint)
    old_term = signal.signal(signal.SIGTERM, on_sigint)
    start = time.monotonic()
    forwarded = 0
    try:
        while not child.exited.wait(0.1):
            elapsed = time.monotonic() - start
            if on_tick is not None:
                last = rss.points[-1] if rss.points else None
                on_tick(elapsed, (last.rss + last.children_rss) if last else 0)
            if timeout is not None and elapsed >= timeout and not ending.timed_out:
                ending.timed_out = True
                ending.stacks = stacks.dump_stacks(child.pid)
                ending.stacks.reason = ending.stacks.reason or f"timeout after {timeout:g} s"
                child.stop()
            if presses and forwarded == 0:
                # A Ctrl-C at the terminal reached the child too; a SIGINT sent to diag alone
                # did not, so pass it on once the child has had a moment to react.
                forwarded = 1
                _later(1.0, lambda: child.signal(signal.SIGINT))
            if presses >= 2 and forwarded < 2:
                forwarded = 2
                threading.Thread(target=child.stop, daemon=True).start()
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    return ending


def _later(delay: float, fn: Callable[[], None]) -> None:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()


def _outcome(child: Child, exc: ExceptionInfo | None, ending: _Ending, wall: float) -> Outcome:
    status = child.status or 0
    out = Outcome(
        kind="exit", wall_s=wall, cpu_user_s=child.cpu_user, cpu_system_s=child.cpu_system,
        exception=exc,
    )  # fmt: skip
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        out.signal, out.signal_name = sig, signal.Signals(sig).name
        out.kind, out.diag_exit_code = "signal", 128 + sig
        out.detail = f"killed by {out.signal_name}"
        if sig == signal.SIGKILL:
            out.detail += " (the OOM killer, or kill -9)"
        elif sig == signal.SIGSEGV:
            out.detail += " (a crash in native code: C extension, Numba or CuPy kernel)"
    else:
        out.exit_code = os.WEXITSTATUS(status)
        out.diag_exit_code = out.exit_code
        if exc is not None and out.exit_code == 1:
            out.kind = "exception"
            out.detail = f"uncaught {exc.type}"
        else:
            out.detail = f"exited with status {out.exit_code}"
    if ending.timed_out:
        out.kind, out.diag_exit_code = "timeout", 124
        out.detail = "stopped by diag after --timeout; " + out.detail
    elif ending.interrupted:
        out.kind = "interrupted"
        out.diag_exit_code = out.diag_exit_code or 130
        out.detail = "interrupted (Ctrl-C); " + out.detail
    return out


def _time(
    opts: ProfileOptions, problem: str | None, sampled: SamplerResult | None, wall: float
) -> TimeSection:
    if problem is not None or sampled is None:
        return TimeSection(available=False, unavailable_reason=problem or "py-spy did not run")
    return section_from_sampler(
        sampled, rate=opts.rate, native=opts.native, idle=opts.idle, wall=wall,
        nonblocking=opts.nonblocking,
    )  # fmt: skip
