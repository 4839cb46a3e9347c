"""Wait statuses of real processes, read as the report's Outcome, for runs diag started and
processes it attached to."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest

from diagkit.model.report import ExceptionInfo
from diagkit.run import endings
from diagkit.run.endings import Detach
from diagkit.run.launch import Child


def _status(script: str) -> int:
    """The wait status of ``sh -c script``, read as a parent reads it."""
    proc = subprocess.Popen(["sh", "-c", script])
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = 0  # reaped here: Popen must not wait for it again
    return status


def _child(script: str) -> Child:
    child = Child(["sh", "-c", script], dict(os.environ), ())
    assert child.exited.wait(10)
    return child


def _exc() -> ExceptionInfo:
    return ExceptionInfo(type="ValueError", message="boom", traceback="")


def test_a_program_that_exits_gives_its_status_to_diag():
    out = endings.launched_outcome(_child("exit 3"), None, False, 1.5)
    assert (out.kind, out.exit_code, out.diag_exit_code) == ("exit", 3, 3)
    assert out.detail == "exited with status 3" and out.wall_s == 1.5 and out.signal is None


def test_exit_1_with_an_exception_is_the_exception():
    out = endings.launched_outcome(_child("exit 1"), _exc(), False, 0.1)
    assert (out.kind, out.detail, out.diag_exit_code) == ("exception", "uncaught ValueError", 1)
    # Any other status is the status, whatever exception was recorded.
    assert endings.launched_outcome(_child("exit 2"), _exc(), False, 0.1).kind == "exit"


@pytest.mark.parametrize(
    ("sig", "hint"),
    [
        (signal.SIGSEGV, " (a crash in native code: C extension, Numba or CuPy kernel)"),
        (signal.SIGKILL, " (the OOM killer, or kill -9)"),
        (signal.SIGUSR1, ""),
    ],
)
def test_a_signal_the_program_got_elsewhere_is_named_with_its_likely_cause(sig, hint):
    out = endings.launched_outcome(_child(f"kill -{sig.name[3:]} $$"), None, False, 0.1)
    assert (out.kind, out.signal, out.signal_name) == ("signal", sig, sig.name)
    assert out.diag_exit_code == 128 + sig and not out.killed_by_diag
    assert out.detail == f"killed by {sig.name}{hint}"


def test_a_signal_diag_sent_says_so():
    child = Child(["sleep", "30"], dict(os.environ), ())
    child.stop()
    out = endings.launched_outcome(child, None, False, 0.1)
    assert out.killed_by_diag and out.detail == "killed by SIGTERM, sent by diag"
    assert out.diag_exit_code == 128 + signal.SIGTERM


def test_a_timeout_is_124_and_says_what_ended_the_program():
    child = Child(["sleep", "30"], dict(os.environ), ())
    child.stop()
    out = endings.launched_outcome(child, None, True, 0.1)
    assert (out.kind, out.diag_exit_code) == ("timeout", 124)
    assert out.detail == "stopped by diag after --timeout; killed by SIGTERM, sent by diag"


def test_sigterm_to_diag_outranks_the_timeout_and_the_programs_status():
    child = _child("exit 0")
    child.received += [signal.SIGINT, signal.SIGTERM]
    out = endings.launched_outcome(child, None, True, 0.1)
    assert (out.kind, out.diag_signal, out.diag_exit_code) == ("interrupted", "SIGTERM", 143)
    assert out.detail == "diag received SIGTERM; exited with status 0"


@pytest.mark.parametrize("stopped", [False, True])
def test_ctrl_c_keeps_the_status_of_a_program_that_ended_by_itself(stopped):
    child = _child("exit 5")
    child.received.append(signal.SIGINT)
    child.stopping = stopped
    out = endings.launched_outcome(child, None, False, 0.1)
    assert (out.kind, out.diag_signal) == ("interrupted", "SIGINT")
    assert out.diag_exit_code == (130 if stopped else 5)
    assert out.detail == "interrupted (Ctrl-C); exited with status 5"


def test_cpu_is_counted_from_the_programs_first_line():
    child = _child("i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done")
    assert child.cpu_user > 0
    out = endings.launched_outcome(child, None, False, 0.1, (child.cpu_user, 0.0))
    assert out.cpu_user_s == 0.0
    assert endings.launched_outcome(child, None, False, 0.1, (1e9, 1e9)).cpu_system_s == 0.0


def test_a_zombie_seen_while_attached_gives_its_status_or_signal():
    out = endings.attached_outcome(42, Detach(why="exited", status=_status("exit 7")), 2.0, (0, 0))
    assert (out.kind, out.exit_code, out.diag_exit_code) == ("exit", 7, 0)
    assert out.detail == "exited with status 7 (seen before its parent collected it)"
    killed = Detach(why="exited", status=_status("kill -SEGV $$"))
    out = endings.attached_outcome(42, killed, 2.0, (0, 0))
    assert (out.kind, out.signal_name, out.diag_exit_code) == ("signal", "SIGSEGV", 0)
    assert out.detail == "killed by SIGSEGV (seen before its parent collected it)"


def test_zombie_status_reads_only_a_zombie():
    proc = subprocess.Popen(["sh", "-c", "exit 9"])
    try:
        for _ in range(500):
            status = endings.zombie_status(proc.pid)
            if status is not None:
                break
            threading.Event().wait(0.01)
        assert status is not None and os.waitstatus_to_exitcode(status) == 9
    finally:
        proc.wait()
    assert endings.zombie_status(os.getpid()) is None  # running, not a zombie


def test_a_program_killed_by_a_real_time_signal_is_named_not_a_crash_of_diag():
    # signal.Signals has no member for SIGRTMIN+N: naming it must not raise.
    sig = signal.SIGRTMIN + 6
    out = endings.launched_outcome(_child(f"kill -{int(sig)} $$"), None, False, 0.5)
    assert (out.kind, out.signal, out.signal_name) == ("signal", sig, "SIGRTMIN+6")
    assert out.detail == "killed by SIGRTMIN+6" and out.diag_exit_code == 128 + sig
