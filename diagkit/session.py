"""Launch a target under the collectors and merge what they saw into one Report.

The target is a child process, so whatever it does (raise, exit, segfault, get
SIGKILLed, hang) the parent still writes the report from the out-of-process
collectors and the channel records that reached disk.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diagkit import __version__
from diagkit.collectors import stacks
from diagkit.collectors.environment import DistributionIndex, environment_section
from diagkit.collectors.inproc_results import parse_events
from diagkit.collectors.rss import RssSampler
from diagkit.collectors.sampled_time import section_from_sampler
from diagkit.collectors.sampler import PySpySampler, SamplerResult
from diagkit.inproc.channel import read_events
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

SPEEDSCOPE = "profile.speedscope.json"
TERM_GRACE_S = 3.0


@dataclass
class ProfileOptions:
    kind: str  # "script" | "module"
    target: str
    args: list[str]
    out_dir: Path
    rate: int = 200
    native: bool = False
    subprocesses: bool = False
    idle: bool = False
    timeout: float | None = None
    command: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    # False for an instrumented second pass: tracers in the target would distort samples anyway.
    sample: bool = True
    # False where the caller keeps only the outcome (the --deep passes): the package scan
    # behind the environment section costs ~0.14 s of CPU per run.
    environment: bool = True
    # Extra in-process collectors, "module:function" (see _bootstrap._Run.start_extra).
    collectors: list[str] = field(default_factory=list)
    # Wraps the child's argv in a launcher (nsys). The child is then the launcher: no
    # start handshake and no sampling, and the exit status comes from the channel.
    wrap: Callable[[list[str]], list[str]] | None = None


class _Child:
    """The target process, reaped by a thread with wait4 for its exact rusage."""

    def __init__(self, argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> None:
        self.proc = subprocess.Popen(argv, env=env, pass_fds=fds)
        self.pid = self.proc.pid
        self.status: int | None = None
        self.maxrss = 0
        self.cpu_user = self.cpu_system = 0.0
        self.exited = threading.Event()
        self.end_ns = 0
        threading.Thread(target=self._reap, name="diag-reap", daemon=True).start()

    def _reap(self) -> None:
        _, status, ru = os.wait4(self.pid, 0)
        self.end_ns = time.monotonic_ns()
        self.status = status
        self.proc.returncode = os.waitstatus_to_exitcode(status)  # stop Popen from reaping again
        self.maxrss = ru.ru_maxrss * 1024
        self.cpu_user, self.cpu_system = ru.ru_utime, ru.ru_stime
        self.exited.set()

    def signal(self, sig: int) -> None:
        if not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def stop(self) -> None:
        """SIGTERM (the bootstrap flushes what it has), then SIGKILL after a grace period."""
        self.signal(signal.SIGTERM)
        if not self.exited.wait(TERM_GRACE_S):
            self.signal(signal.SIGKILL)
            self.exited.wait(5.0)


Contributor = Callable[[Report, list[dict[str, Any]], int], None]


def run_profile(
    opts: ProfileOptions,
    on_tick: Callable[[float, int], None] | None = None,
    contribute: Contributor | None = None,
) -> Report:
    """Run the target once. ``contribute(report, events, t0_ns)`` lets the extra collectors
    turn their own channel records into sections before the channel is deleted."""
    channel = Path(tempfile.mkdtemp(prefix="diagkit-run-"))
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    env = {**os.environ, **opts.extra_env}
    env.update(DIAGKIT_CHANNEL=str(channel), DIAGKIT_GO_FD=str(go_r), DIAGKIT_READY_FD=str(ready_w))
    if opts.collectors:
        env["DIAGKIT_COLLECTORS"] = ",".join(opts.collectors)
    argv = [sys.executable, "-m", "diagkit._bootstrap", opts.kind, opts.target, *opts.args]
    if opts.wrap is not None:
        argv = opts.wrap(argv)
        for key in ("DIAGKIT_GO_FD", "DIAGKIT_READY_FD"):
            env.pop(key)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    child = _Child(argv, env, (go_r, ready_w))
    dist_index = DistributionIndex() if opts.environment else None
    os.close(go_r)
    os.close(ready_w)
    if opts.wrap is None:
        _wait_ready(ready_r, child)
    else:
        os.close(ready_r)
    sampler = PySpySampler(
        child.pid, channel / SPEEDSCOPE, rate=opts.rate, native=opts.native,
        subprocesses=opts.subprocesses, idle=opts.idle,
    )  # fmt: skip
    sampling = opts.sample and opts.wrap is None
    sampler_problem = sampler.start() if sampling else "not sampled in this pass"
    t0 = time.monotonic_ns()
    rss = RssSampler(child.pid, t0)
    rss.start()
    os.write(go_w, b"g")
    os.close(go_w)
    ending = _watch(child, opts.timeout, on_tick, rss)
    timed_out_stacks = ending.stacks
    rss.stop()
    sampled = sampler.stop() if sampler_problem is None else None

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


def _wait_ready(fd: int, child: _Child, limit: float = 60.0) -> None:
    """Block until the bootstrap says it is ready, the child dies, or the limit passes."""
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and not child.exited.is_set():
            if select.select([fd], [], [], 0.05)[0]:
                os.read(fd, 1)  # b"r", or b"" when the child died before writing
                return
    finally:
        os.close(fd)


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
    child: _Child,
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


def _outcome(child: _Child, exc: ExceptionInfo | None, ending: _Ending, wall: float) -> Outcome:
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
        sampled, rate=opts.rate, native=opts.native, idle=opts.idle, wall=wall
    )
