"""py-spy, attached from outside to the target's pid: the run's source of time attribution."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagkit.collectors.ptrace_access import describe_tracers, may_ptrace
from diagkit.collectors.thread_ends import ThreadEnds
from diagkit.collectors.threads import REFUSED, start_daemon
from diagkit.errors import DiagError, TargetBusy, TargetRefused

_SAMPLING = re.compile(r"Sampling process (\d+) times a second")
_TOTALS = re.compile(r"Samples: (\d+) Errors: (\d+)")
PERMISSION_HINT = (
    "py-spy may not read this process's memory. Run diag as the same user as the target, and in a "
    "container add the SYS_PTRACE capability (docker run --cap-add SYS_PTRACE) or set "
    "kernel.yama.ptrace_scope=0 (sysctl); 'sudo diag ...' also works"
)


@dataclass
class SamplerResult:
    ok: bool
    reason: str = ""
    speedscope: Path | None = None
    samples: int = 0
    errors: int = 0
    version: str = ""
    slow_rate: int = 0  # the rate after the first seconds, where the run lasted that long
    slow_after_s: float = 0  # when the second rate began (0: one rate throughout)
    slow_failed: str = ""  # what the second py-spy said when it sampled nothing
    pid: int = 0  # the sampled process: its main thread's native id
    # Nonblocking, time-weighted sampling (``chunked_sampler``):
    nonblocking: bool = False
    chunks: int = 0  # py-spy runs back to back, each converted as it ended
    seams_s: float = 0.0  # the time between them, not sampled
    reads: int = 0  # the samples py-spy was due to take in the time it sampled
    stopped_after_s: float = 0.0  # where a later py-spy failed: the seconds sampled until then
    stopped_why: str = ""  # what it said
    # The speedscope file's content where diag built it (the time-weighted timeline): read
    # as it is, its stacks shared, instead of back from the file one list per sample.
    doc: dict[str, Any] | None = field(default=None, repr=False)


def find_py_spy() -> str | None:
    """The py-spy beside this interpreter (where its wheel installs it), else on PATH.

    A PATH entry may be a wrapper (a pyenv shim costs ~80 ms a call).
    """
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("py-spy")


# RUST_BACKTRACE, where a user has it set, would bury py-spy's one-line error under a backtrace.
QUIET_ENV = {"RUST_BACKTRACE": "0", "RUST_LIB_BACKTRACE": "0"}


def py_spy_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().removeprefix("py-spy ").strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass
class Leg:
    """One py-spy process of a run: a run is one or more, each started when the last ends."""

    rate: int
    output: Path
    proc: subprocess.Popen[bytes]
    spawn_s: float  # time.monotonic() just before it was started
    lines: list[str] = field(default_factory=list)  # what it printed
    reader: threading.Thread | None = None
    sampling_s: float = 0.0  # when its "Sampling" line was read (0: never)
    finished: bool = False


class PySpySampler:
    """``py-spy record --pid``: started before the target runs its first line, stopped after
    it exits (or, attached, when diag detaches).

    A run is a sequence of py-spy processes ("legs"): when one ends by its own
    ``--duration``, the next is started at once if the target lives and the sampler is not
    stopping, and the one that ended is handed to ``_done``. What each leg runs, what follows
    it and what the files become is the subclass's (``BlockingSampler``, and the
    time-weighted ``chunked_sampler.ChunkedSampler``).
    """

    thread_ends: ThreadEnds | None = None  # filled by the RSS sampler's polls, where used

    def __init__(
        self,
        pid: int,
        output: Path,
        *,
        rate: int,
        native: bool = False,
        subprocesses: bool = False,
        idle: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.native = native
        self.subprocesses = subprocesses
        self.idle = idle
        self._alive = alive
        self.exe = find_py_spy()
        self.legs: list[Leg] = []
        self._attached = threading.Event()
        self._lock = threading.Lock()
        self._stopping = False
        self._follower: threading.Thread | None = None
        self._later_problem = ""  # why a later py-spy never started, where diag knows
        # Why py-spy failed, as the error of its kind: TargetRefused, TargetBusy or DiagError.
        self.failure: DiagError | None = None

    # What a subclass decides.
    def _first(self) -> tuple[list[str], int, Path]:
        """The first leg: its command, rate and output file."""
        raise NotImplementedError

    def _next(self, ended: Leg) -> tuple[list[str], int, Path] | None:
        """The leg that follows ``ended`` (which ran its course while the target lives)."""
        return None

    def _done(self, leg: Leg) -> None:
        """``leg``'s py-spy has ended and its output is read; called once per leg, in order."""

    def _result(self, samples: int, errors: int) -> SamplerResult:
        raise NotImplementedError

    def _on_follower_start(self) -> None:
        """Work that can overlap the run, on the thread that follows the legs."""

    def _wait(self, leg: Leg) -> None:
        """Until ``leg``'s py-spy ends (a subclass may end it early)."""
        leg.proc.wait()

    def record_command(self, rate: int, output: Path, fmt: str) -> list[str]:
        cmd = [
            self.exe or "py-spy",
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(rate),
            "--format",
            fmt,
            "--output",
            str(output),
            "--full-filenames",
        ]
        if self.native:
            cmd.append("--native")
        if self.subprocesses:
            cmd.append("--subprocesses")
        return cmd

    def _launch(self, cmd: list[str], rate: int, output: Path) -> Leg | str:
        """Start a py-spy and the thread that reads it; else why not (and no py-spy runs)."""
        try:
            spawn_s = time.monotonic()
            # A session of its own: Ctrl-C at the terminal is for the target and for diag,
            # which stops py-spy itself once the target has ended.
            proc = subprocess.Popen(
                # Its status lines go to stdout or stderr depending on the version and on
                # whether they are terminals: read both as one stream.
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **QUIET_ENV},
            )
        except OSError as exc:
            return f"py-spy could not be started: {exc.strerror or exc}"
        leg = Leg(rate, output, proc, spawn_s)
        leg.reader = start_daemon(self._read_output, "diag-py-spy-out", leg)
        if leg.reader is None:
            # Unread, py-spy would block on a full pipe, and its "Sampling" line would never come.
            proc.kill()
            proc.wait()
            return f"py-spy's output could not be read: {REFUSED}"
        self.legs.append(leg)
        return leg

    def start(self, attach_timeout: float = 10.0) -> str | None:
        """Start sampling; return None once py-spy says it samples, else why it could not."""
        if self.exe is None:
            return "py-spy is not on PATH (it is a dependency of diagkit: pip install py-spy)"
        launched = self._launch(*self._first())
        if isinstance(launched, str):
            return launched
        deadline = time.monotonic() + attach_timeout
        while time.monotonic() < deadline:
            if self._attached.wait(0.02):
                self._follower = start_daemon(self._follow, "diag-py-spy-next")
                if self._follower is None:
                    self._later_problem = f"py-spy could not be started: {REFUSED}"
                return None
            if launched.proc.poll() is not None:
                if launched.reader is not None:
                    launched.reader.join(1.0)
                return self._explain_failure()
        self.stop()
        return f"py-spy did not start sampling within {attach_timeout:.0f} s"

    def _follow(self) -> None:
        """As each leg ends, start the next (if the target lives), then hand over the one
        that ended: the next samples while the last one's file is read."""
        self._on_follower_start()
        leg = self.legs[-1]
        while True:
            self._wait(leg)
            if leg.reader is not None:  # its last lines say why it stopped (see _next)
                leg.reader.join(1.0)
            following: Leg | None = None
            with self._lock:
                alive = self._alive is None or self._alive()
                spec = None if self._stopping or not alive else self._next(leg)
                if spec is not None:
                    launched = self._launch(*spec)
                    if isinstance(launched, str):
                        self._later_problem = launched
                    else:
                        following = launched
            self._finish(leg)
            if following is None:
                return
            leg = following

    def _finish(self, leg: Leg) -> None:
        if leg.finished:
            return
        leg.finished = True
        if leg.reader is not None:
            leg.reader.join(2.0)  # its totals line comes as it exits
        self._done(leg)

    def _read_output(self, leg: Leg) -> None:
        assert leg.proc.stdout is not None
        for raw in leg.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            leg.lines.append(line)
            if not leg.sampling_s and _SAMPLING.search(line):
                leg.sampling_s = time.monotonic()
                self._attached.set()

    def _lines(self) -> list[str]:
        return [line for leg in self.legs for line in leg.lines]

    def _explain_failure(self) -> str:
        self.failure = self._failure()
        return self.failure.message

    def _failure(self) -> DiagError:
        text = " ".join(line.removeprefix("py-spy>").strip() for line in self._lines() if line)
        access = may_ptrace(self.pid)  # None once the process is gone: it refused nothing
        if access is not None and re.search(r"permission|EPERM|not permitted|ptrace", text, re.I):
            if access is False:
                return TargetRefused(
                    f"py-spy was refused access to pid {self.pid}: {PERMISSION_HINT}"
                )
            # The kernel lets diag trace it: advice about permissions would send the user
            # after a problem they do not have.
            held = describe_tracers(self.pid)
            busy = f"another tracer holds it ({held})" if held else "diag may trace it"
            kind = TargetBusy if held else DiagError
            return kind(
                f"py-spy failed on pid {self.pid}, not for want of permission ({busy}): {text[-300:]}"
            )
        status = self.legs[-1].proc.returncode if self.legs else None
        return DiagError(f"py-spy failed: {text[-300:] or 'exit status ' + str(status)}")

    def stop_now(self) -> SamplerResult:
        """Stop sampling a target that keeps running (attach mode): py-spy stops by itself only
        when the target exits; SIGINT makes it write its file now."""
        with self._lock:
            self._stopping = True  # first, so that no further py-spy is started after this
            leg = self.legs[-1] if self.legs else None
        if leg is not None and leg.proc.poll() is None:
            leg.proc.send_signal(signal.SIGINT)
        return self.stop()

    def stop(self, grace: float = 10.0) -> SamplerResult:
        """Wait for py-spy to notice the target has exited and write its file; nudge it if needed."""
        with self._lock:
            self._stopping = True
            leg = self.legs[-1] if self.legs else None
        if leg is None:
            return SamplerResult(ok=False, reason="py-spy was not started")
        proc = leg.proc
        try:
            proc.wait(timeout=grace / 2)
        except subprocess.TimeoutExpired:
            # The target is still alive (attach mode, or it outlived diag's interest): SIGINT
            # makes py-spy stop sampling and still write its output.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._follower is not None:
            self._follower.join()
        for each in self.legs:
            self._finish(each)
        samples = errors = 0
        for m in _TOTALS.finditer("\n".join(self._lines())):
            samples, errors = samples + int(m.group(1)), errors + int(m.group(2))
        return self._result(samples, errors)
