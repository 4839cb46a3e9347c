"""Start the target and attach py-spy to it, while diag loads the rest of itself.

Only the standard library and the sampler are imported here: ``diag profile``
starts the child as soon as its options are checked, and the child's
interpreter start-up, the start handshake and py-spy's attach (together
~40-60 ms) run alongside diag's own preparations (``Launch.overlap``: the
import of the report model and the collectors, the environment's facts)
instead of before or after them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from diagkit._paths import BOOTSTRAP_MAIN
from diagkit.collectors.threads import start_daemon
from diagkit.model.kinds import LaunchKind
from diagkit.model.store import SPEEDSCOPE
from diagkit.run import proctree
from diagkit.run.sampling import SamplingOptions
from diagkit.target import fds

TERM_GRACE_S = 3.0
# While diag's preparations run beside the start, the threads that answer the child and
# py-spy get the interpreter within this, not the default 5 ms, each time they wake.
OVERLAP_SWITCH_S = 0.0005


@dataclass
class ProfileOptions:
    kind: LaunchKind
    target: str
    args: list[str]
    out_dir: Path
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    timeout: float | None = None
    command: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    # False for an instrumented second pass: tracers in the target would distort samples anyway.
    sample: bool = True
    # False where the caller keeps only the outcome (the --deep passes): the package scan
    # behind the environment section costs ~0.14 s of CPU per run.
    environment: bool = True
    # Extra in-process collectors, "module:function" (see target.bootstrap._Run.start_extra).
    collectors: list[str] = field(default_factory=list)
    # Wraps the child's argv in a launcher (nsys). The child is then the launcher: no
    # start handshake and no sampling, and the exit status comes from the channel.
    wrap: Callable[[list[str]], list[str]] | None = None


class Child:
    """The target process, reaped by a thread with wait4 for its exact rusage."""

    def __init__(self, argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> None:
        proctree.become_subreaper()  # before the child exists: all it orphans comes to diag
        self.proc = subprocess.Popen(argv, env=env, pass_fds=fds)
        self.pid = self.proc.pid
        self.status: int | None = None
        self.maxrss = 0
        self.cpu_user = self.cpu_system = 0.0
        self.switches = (0, 0)  # voluntary, involuntary: the program's threads and reaped children
        self.exited = threading.Event()
        self.end_ns = 0
        self.sent: list[int] = []  # the signals diag sent it
        self.received: list[int] = []  # the signals diag itself got while it ran
        self.stopping = False  # diag began stopping it (and all it started)
        self._tree: dict[int, int] = {}  # its descendants when diag began stopping it
        self._stop_lock = threading.Lock()
        if start_daemon(self._reap, "diag-reap") is None:
            self.exited = _PolledExit(self._poll)

    def _reap(self) -> None:
        _, status, ru = os.wait4(self.pid, 0)
        self._record(status, ru)

    def _poll(self) -> None:
        """Reap the child if it has ended, without blocking (when no reaper thread runs)."""
        try:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            self._record(status, ru)

    def _record(self, status: int, ru: resource.struct_rusage) -> None:
        self.end_ns = time.monotonic_ns()
        self.status = status
        self.proc.returncode = os.waitstatus_to_exitcode(status)  # stop Popen from reaping again
        self.maxrss = ru.ru_maxrss * 1024
        self.cpu_user, self.cpu_system = ru.ru_utime, ru.ru_stime
        self.switches = (ru.ru_nvcsw, ru.ru_nivcsw)
        self.exited.set()

    def signal(self, sig: int) -> None:
        if not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
                self.sent.append(sig)

    def stop(self, first: int | None = None, wait_first: float = 0.0) -> None:
        """Stop the target and everything it started: ``first`` (SIGTERM unless said) to the
        target (the bootstrap flushes what it has), SIGKILL to it after a grace period, then
        to its descendants.

        With ``wait_first``, the target is given that long to end by itself first: the same
        signal may have reached its whole process group. Its descendants get no signal but
        SIGKILL: a forked worker runs the bootstrap's SIGTERM handler, which would write its
        stale copy of the counts into the run's channel after the target's own.
        """
        with self._stop_lock:
            if self.stopping:
                return
            self.stopping = True
            # Taken first: once the target dies its children are re-parented.
            self._tree.update(proctree.descendants(self.pid))
            if not (wait_first and self.exited.wait(wait_first)):
                self.signal(first or signal.SIGTERM)
                if not self.exited.wait(TERM_GRACE_S):
                    self._tree.update(proctree.descendants(self.pid))
                    self.signal(signal.SIGKILL)
                    self.exited.wait(5.0)
            proctree.kill(self._tree)

    def sweep(self) -> None:
        """After a stop, once diag's own helpers have ended: SIGKILL (and reap) whatever the
        target started that is still alive, including orphans the kernel gave to diag."""
        with self._stop_lock:
            if self.stopping:
                proctree.kill({**self._tree, **proctree.adopted({self.pid})})


class Launch:
    """The child under its bootstrap, and a thread that lets it run once py-spy samples it.

    The bootstrap says "ready" after its own imports; py-spy attaches then, so
    interpreter start-up is never sampled and the program's first line always is.
    """

    def __init__(self, opts: ProfileOptions) -> None:
        self.channel = Path(tempfile.mkdtemp(prefix="diagkit-run-"))
        go_r, self._go_w = _pipe()
        ready_r, ready_w = _pipe()
        env = {**os.environ, **opts.extra_env}
        env.update(
            DIAGKIT_CHANNEL=str(self.channel),
            DIAGKIT_GO_FD=str(go_r),
            DIAGKIT_READY_FD=str(ready_w),
            DIAGKIT_PARENT_PID=str(os.getpid()),
        )
        if opts.collectors:
            env["DIAGKIT_COLLECTORS"] = ",".join(opts.collectors)
        # Started by path, so that the child imports this copy of diagkit (see bootstrap_main).
        argv = [sys.executable, BOOTSTRAP_MAIN, opts.kind, opts.target, *opts.args]
        self.handshake = opts.wrap is None
        passed: tuple[int, ...] = (go_r, ready_w)
        if opts.wrap is not None:
            argv = opts.wrap(argv)
            for key in ("DIAGKIT_GO_FD", "DIAGKIT_READY_FD", "DIAGKIT_PARENT_PID"):
                env.pop(key)
            passed = ()  # nothing would close them: they would stay open in the program
        self.child = Child(argv, env, passed)
        os.close(go_r)
        os.close(ready_w)
        self.sampler = opts.sampling.sampler(
            self.child.pid,
            self.channel / SPEEDSCOPE,
            alive=lambda: not self.child.exited.is_set(),
        )
        self.sampling = opts.sample and self.handshake
        # Why there are no samples (None while py-spy samples).
        self.sampler_problem: str | None = "not sampled in this pass"
        self.t0_ns = 0
        self._ready_r = ready_r
        self._between_steps = threading.Lock()  # held while one of overlap's steps runs
        self._thread = start_daemon(self._start, "diag-start")
        if self._thread is None:
            self._start()  # no thread to overlap with: the program waits for diag's imports too

    def _start(self) -> None:
        try:
            if self.handshake:
                _wait_ready(self._ready_r, self.child)
                if self.sampling:
                    self.sampler_problem = self.sampler.start()
            else:
                os.close(self._ready_r)
        finally:
            with self._between_steps:  # no step of diag's may run beside the program
                self.t0_ns = time.monotonic_ns()
            with contextlib.suppress(OSError):
                os.write(self._go_w, b"g")
            os.close(self._go_w)

    def overlap(self, steps: Iterable[Callable[[], object]]) -> None:
        """Run ``steps`` in this thread, one after another, while the program starts.

        Each step is a piece of diag's own work done ahead (an import, a metadata read)
        that is otherwise done on demand after the program's end: the steps not begun when
        the program is let go are left for then, and so is one that fails, to fail again
        where its error is handled. The program is let go between two steps, never during
        one: nothing of diag's runs beside it.
        """
        if self.t0_ns:
            return
        todo = iter(steps)
        switch, collecting = sys.getswitchinterval(), gc.isenabled()
        sys.setswitchinterval(OVERLAP_SWITCH_S)
        gc.disable()  # the steps make long-lived objects, no garbage: ~5 ms of passes saved
        try:
            while True:
                with self._between_steps:
                    step = None if self.t0_ns else next(todo, None)
                    if step is None:
                        return
                    with contextlib.suppress(Exception):
                        step()
        finally:
            sys.setswitchinterval(switch)
            if collecting:
                gc.enable()

    def started(self) -> int:
        """Wait until the program has been let go; its monotonic start in ns."""
        if self._thread is not None:
            self._thread.join()
        return self.t0_ns


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are not 0-2: with diag's stdin closed, os.pipe() returns 0, and
    the child would take diag's pipe for its stdin instead of seeing it closed."""
    read, write = (fds.dup_above(fd, 3) if fd <= 2 else fd for fd in os.pipe())
    return read, write


class _PolledExit(threading.Event):
    """The child's exit, for want of a reaper thread: every look at it polls wait4, and a
    wait polls every 10 ms, so the end of the run is known to within that."""

    def __init__(self, poll: Callable[[], None]) -> None:
        super().__init__()
        self._poll = poll

    def is_set(self) -> bool:
        if not super().is_set():
            self._poll()
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.01 if deadline is None else min(0.01, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True


def _wait_ready(fd: int, child: Child, limit: float = 60.0) -> None:
    """Block until the bootstrap says it is ready, the child dies, or the limit passes."""
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and not child.exited.is_set():
            if select.select([fd], [], [], 0.05)[0]:
                os.read(fd, 1)  # b"r", or b"" when the child died before writing
                return
    finally:
        os.close(fd)
