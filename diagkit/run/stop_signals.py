"""SIGINT, SIGTERM and SIGHUP to diag: from the moment the target exists, each ends in a report.

The handlers are installed before the target is started and stay until diag
exits. No signal can then end diag while the target runs on (orphaned, still
holding diag's stdout) or before the report is saved; what diag was told is
recorded on the target it was running, for the report, and in ``received``,
for diag's exit status. A handler only records and dispatches: waiting for the
target to stop runs in a thread.

- SIGINT: a Ctrl-C at the terminal reaches the target too (it is in diag's
  process group), so the first is passed on only if the target is still running
  a second later (it was sent to diag alone); the second stops it. Before the
  program's first line there is nothing to interrupt, and the first stops it.
- SIGTERM (a batch scheduler's time limit) and SIGHUP (a closed terminal or ssh
  session): the same signal is passed on, unless the target ends by itself
  within a second (it got the signal with its group: a second SIGTERM while the
  bootstrap's handler flushes would cut that flush short); then it is stopped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from diagkit.collectors.threads import start_daemon
from diagkit.errors import ExitCode

if TYPE_CHECKING:
    from diagkit.run.launch import Child

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PASS_ON_AFTER_S = 1.0


class StopSignals:
    def __init__(self) -> None:
        self.received: list[int] = []
        self.woken = threading.Event()  # for a loop that waits on no target (--pid)
        self._child: Child | None = None
        self._program_started: Callable[[], bool] = lambda: True
        self._pending: list[int] = []  # received while no target ran

    def install(self) -> None:
        for sig in HANDLED:
            # An ignored signal stays ignored: under nohup, a closed terminal must not stop diag.
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, self._on_signal)

    @property
    def stop_signal(self) -> int:
        """The first SIGTERM or SIGHUP diag received (0: none)."""
        return first_stop(self.received)

    def exit_status(self, status: int) -> int:
        """diag's exit status: 128+N once told to stop by signal N, else the run's own."""
        return ExitCode.told_to_stop(self.stop_signal) if self.stop_signal else status

    def watch(self, child: Child, program_started: Callable[[], bool]) -> None:
        """Dispatch signals to ``child`` until ``release``; those that came before apply now."""
        if child is self._child:
            return
        self._child, self._program_started = child, program_started
        pending, self._pending = self._pending, []
        if self.stop_signal and self.stop_signal not in pending:
            pending.insert(0, self.stop_signal)  # told to stop earlier: nothing more may run
        for sig in pending:
            self._dispatch(child, sig)

    def release(self, child: Child) -> None:
        if self._child is child:
            self._child = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        self.woken.set()
        child = self._child
        if child is None:
            self._pending.append(signum)
        elif child.exited.is_set():
            child.received.append(signum)  # its report still says so; nothing is left to stop
        else:
            self._dispatch(child, signum)

    def _dispatch(self, child: Child, signum: int) -> None:
        child.received.append(signum)
        started = self._program_started()
        if signum != signal.SIGINT:
            _in_thread(lambda: child.stop(signum, PASS_ON_AFTER_S if started else 0.0))
            return
        presses = child.received.count(signal.SIGINT)
        if presses == 1 and started:
            _in_thread(lambda: _pass_on_later(child))
        elif presses <= 2:
            _in_thread(child.stop)


def first_stop(received: list[int]) -> int:
    """The first SIGTERM or SIGHUP among ``received`` (0: none)."""
    return next((s for s in received if s != signal.SIGINT), 0)


def _pass_on_later(child: Child) -> None:
    if not child.exited.wait(PASS_ON_AFTER_S):
        child.signal(signal.SIGINT)


def _in_thread(fn: Callable[[], None]) -> None:
    if start_daemon(fn, "diag-stop") is None:
        fn()  # no thread to be had: the handler waits for the target itself


_installed: StopSignals | None = None


def install() -> StopSignals:
    """The process's one set of handlers, installed on the first call (from the main thread)."""
    global _installed
    if _installed is None:
        _installed = StopSignals()
        if threading.current_thread() is threading.main_thread():
            _installed.install()
    return _installed
