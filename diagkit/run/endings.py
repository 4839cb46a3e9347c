"""How a run ended, as the report's Outcome, and the loop that watches it until then.

A program diag started ends with the wait status its reaper read; a process diag
attached to ends with the status read from its zombie, when diag catches one, or
with diag detaching. The signals diag sent and received, and a deadline that
passed, then say whose doing the end was.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diagkit.errors import ExitCode
from diagkit.model.report import ExceptionInfo, Outcome
from diagkit.run import stop_signals
from diagkit.run.launch import TERM_GRACE_S, Child

if TYPE_CHECKING:
    from diagkit.collectors.rss import RssSampler

POLL_S = 0.1
OnTick = Callable[[float, int], None]


class Ticks:
    """Every ``POLL_S`` until ``ended(POLL_S)`` (a wait that is true once the end has come):
    the progress callback is told the time and RSS, then the seconds since the start are
    handed to the caller's own checks (a deadline, whether the process is still there)."""

    def __init__(
        self, ended: Callable[[float], bool], rss: RssSampler, on_tick: OnTick | None
    ) -> None:
        self.start = time.monotonic()
        self._ended, self._rss, self._on_tick = ended, rss, on_tick

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __iter__(self) -> Iterator[float]:
        while not self._ended(POLL_S):
            elapsed = self.elapsed()
            if self._on_tick is not None:
                last = self._rss.points[-1] if self._rss.points else None
                self._on_tick(elapsed, (last.rss + last.children_rss) if last else 0)
            yield elapsed


def signal_name(sig: int) -> str:
    """SIGSEGV, SIGRTMIN+6: the real-time signals have no member in ``signal.Signals``."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        low, high = signal.SIGRTMIN, signal.SIGRTMAX
        return f"SIGRTMIN+{sig - low}" if low <= sig <= high else f"signal {sig}"


def _from_status(out: Outcome, status: int) -> None:
    """Kind, signal or exit code, and the plain detail, from a wait status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        out.kind, out.signal, out.signal_name = "signal", sig, signal_name(sig)
        out.detail = f"killed by {out.signal_name}"
    else:
        out.kind, out.exit_code = "exit", os.WEXITSTATUS(status)
        out.detail = f"exited with status {out.exit_code}"


def launched_outcome(
    child: Child,
    exc: ExceptionInfo | None,
    timed_out: bool,
    wall: float,
    cpu0: tuple[float, float] = (0.0, 0.0),
) -> Outcome:
    """The end of a program diag started: its own status, then what diag did or was told.

    diag's exit status is the program's, 128+N for a signal, 124 for a timeout."""
    out = Outcome(
        kind="exit",
        wall_s=wall,
        cpu_user_s=max(0.0, child.cpu_user - cpu0[0]),
        cpu_system_s=max(0.0, child.cpu_system - cpu0[1]),
        exception=exc,
    )
    _from_status(out, child.status or 0)
    if out.signal is not None:
        sig = out.signal
        out.diag_exit_code = 128 + sig
        out.killed_by_diag = sig in child.sent
        if out.killed_by_diag:
            out.detail += ", sent by diag"
            if sig == signal.SIGKILL:
                out.detail += f" when SIGTERM had not ended it within {TERM_GRACE_S:g} s"
        elif sig == signal.SIGKILL:
            out.detail += " (the OOM killer, or kill -9)"
        elif sig == signal.SIGSEGV:
            out.detail += " (a crash in native code: C extension, Numba or CuPy kernel)"
    else:
        out.diag_exit_code = out.exit_code or 0
        if exc is not None and out.exit_code == 1:
            out.kind = "exception"
            out.detail = f"uncaught {exc.type}"
    told = stop_signals.first_stop(child.received)
    if told:
        name = signal.Signals(told).name
        out.kind, out.diag_signal = "interrupted", name
        out.diag_exit_code = ExitCode.told_to_stop(told)
        out.detail = f"diag received {name}; {out.detail}"
    elif timed_out:
        out.kind, out.diag_exit_code = "timeout", ExitCode.TIMEOUT
        out.detail = "stopped by diag after --timeout; " + out.detail
    elif signal.SIGINT in child.received:
        out.kind, out.diag_signal = "interrupted", "SIGINT"
        if child.stopping:  # diag stopped it; a program that ended by itself keeps its status
            out.diag_exit_code = ExitCode.SIGINT
        how = "Ctrl-C, and diag stopped it" if out.killed_by_diag else "Ctrl-C"
        out.detail = f"interrupted ({how}); {out.detail}"
    return out


@dataclass
class Detach:
    """Why diag stopped sampling a process it attached to."""

    why: str = ""  # "duration" | "signal" | "exited"
    signal: int = 0  # the one diag received, for "signal"
    status: int | None = None  # wait status, when read from a zombie
    cpu: tuple[float, float] = (0.0, 0.0)


def attached_outcome(pid: int, end: Detach, wall: float, cpu0: tuple[float, float]) -> Outcome:
    """The end of a watch on a process diag did not start: it runs on, or it ended.

    The process's own status is not diag's to return: diag's exit status is 0, or
    128+N when SIGTERM or SIGHUP ended diag."""
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
            out.diag_exit_code = ExitCode.told_to_stop(end.signal)
        out.detail = f"detached {how}; pid {pid} is still running"
        return out
    if end.status is None:
        out.kind, out.detail = "exit", "exited (status unknown: not our child)"
        return out
    _from_status(out, end.status)
    out.detail += " (seen before its parent collected it)"
    return out


def zombie_status(pid: int) -> int | None:
    """The wait status of a zombie (``/proc/PID/stat`` field 52), before its parent reaps it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        if fields[0] != "Z":
            return None
        return int(fields[49])
    except (OSError, IndexError, ValueError):
        return None
