"""Signals to diag and hard endings: every one leaves a report, the right status, and nothing running.

diag is started in a session of its own, as a shell starts a job, so that a
signal to its process group reaches diag and the target as a terminal's Ctrl-C
would, and never the test.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

DIAG = [sys.executable, "-m", "diagkit.cli", "profile", "-q"]

# Waits until told; "ready" only once the program's own first lines have run.
SLEEPER = """
import sys, time, diagkit
with diagkit.range("first"):
    time.sleep(0.05)
print("ready", flush=True)
time.sleep(30)
"""

# A pool's workers busy with long tasks, a process in a session of its own and an orphan of
# a double fork: none of them is in reach of the target's process group or its child list.
FAMILY = """
import multiprocessing as mp, os, signal, subprocess, sys, time
if __name__ == "__main__":
    pool = mp.get_context("fork").Pool(2)
    pool.map_async(time.sleep, [60, 60])
    alone = subprocess.Popen(["sleep", "60"], start_new_session=True)
    out = subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True)
    pids = [p.pid for p in mp.active_children()] + [alone.pid, int(out.stdout)]
    for how in sys.argv[1:]:
        signal.signal(getattr(signal, how), signal.SIG_IGN)
    with open("pids", "w") as fh:
        fh.write(" ".join(map(str, pids)))
    time.sleep(0.3)  # the workers have taken their tasks
    print("ready", flush=True)
    time.sleep(60)
"""


def _default_signals() -> None:
    """In the child before diag starts: the signals these tests send at their defaults. A test
    run under nohup or a CI agent that ignores SIGHUP passes the ignore on, and diag rightly
    keeps ignoring a signal its parent ignored."""
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


def _diag(tmp_path: Path, *args: str, **kw) -> subprocess.Popen[str]:
    cmd = [*DIAG, "--out", str(tmp_path / "r"), *args]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        cmd, cwd=tmp_path, text=True, start_new_session=True, preexec_fn=_default_signals, **kw
    )


def _outcome(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "r" / "report.json").read_text())["outcome"]


def _write(tmp_path: Path, name: str, code: str) -> str:
    (tmp_path / name).write_text(code)
    return name


def _alive(pid: int) -> bool:
    """Running (or stopped), not gone and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    except OSError:
        pass
    return kids


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _target_of(diag: subprocess.Popen, limit: float = 20.0) -> int:
    """The target's pid, polled from diag's child list the moment it appears."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for kid in _children(diag.pid):
            if "py-spy" not in " ".join(_cmdline(kid)):
                return kid
        time.sleep(0.0005)
    raise AssertionError("diag started no target")


def _finish(diag: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """diag's output up to end of file: it comes only when nothing holds diag's pipes open."""
    try:
        return diag.communicate(timeout=timeout)
    finally:
        if diag.poll() is None:
            os.killpg(diag.pid, signal.SIGKILL)
            diag.wait()


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _no_traceback(err: str) -> None:
    """None from diag: the program's own (a KeyboardInterrupt) never shows diag's frames."""
    assert "diagkit" not in err and "diag: aborted" not in err, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_to_diag_is_passed_on_and_reported(tmp_path, sig):
    diag = _diag(tmp_path, _write(tmp_path, "s.py", SLEEPER))
    target = _target_of(diag)
    assert diag.stdout.readline() == "ready\n"
    diag.send_signal(sig)  # to diag alone, as kill(1) or a scheduler's agent sends it
    _, err = _finish(diag)
    assert diag.returncode == 128 + sig
    _no_traceback(err)
    out = _outcome(tmp_path)
    name = signal.Signals(sig).name
    assert (out["kind"], out["diag_signal"]) == ("interrupted", name)
    assert out["diag_exit_code"] == 128 + sig
    assert out["signal_name"] == name and out["killed_by_diag"]  # passed on, as received
    assert out["detail"] == f"diag received {name}; killed by {name}, sent by diag"
    assert not _alive(target)
    ranges = json.loads((tmp_path / "r" / "report.json").read_text())["ranges"]
    assert [s["name"] for s in ranges["stats"]] == ["first"]


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_in_the_first_moments_ends_in_a_report_and_no_orphan(tmp_path, sig, delay):
    diag = _diag(tmp_path, _write(tmp_path, "s.py", SLEEPER))
    target = _target_of(diag)
    time.sleep(delay)
    diag.send_signal(sig)
    # Before the fix an orphaned target held stdout open for its 30 s: no end of file here.
    _, err = _finish(diag, timeout=15)
    assert diag.returncode == 128 + sig
    _no_traceback(err)
    out = _outcome(tmp_path)
    assert out["kind"] == "interrupted" and out["diag_signal"] == signal.Signals(sig).name
    assert out["diag_exit_code"] == 128 + sig
    assert not _alive(target)


def _on_a_terminal(tmp_path: Path, *args: str, ignore_hup: bool = False) -> tuple[int, int]:
    """diag as a terminal's session leader; the terminal closes once the program runs.

    Returns diag's status and the target's pid."""
    master, slave = pty.openpty()

    def session() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # As nohup leaves it, or at the default whatever the test runner's parent set.
        signal.signal(signal.SIGHUP, signal.SIG_IGN if ignore_hup else signal.SIG_DFL)

    flag = tmp_path / "running"
    cmd = [*DIAG[:-1], "--out", str(tmp_path / "r"), *args, str(flag)]
    diag = subprocess.Popen(
        cmd, cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave, preexec_fn=session
    )
    os.close(slave)
    try:
        target = _target_of(diag)
        deadline = time.monotonic() + 20
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.close(master)  # the window closes: every later write to it fails with EIO
        return diag.wait(timeout=30), target
    finally:
        if diag.poll() is None:
            diag.kill()
            diag.wait()


# Says it runs through a file: the terminal it would print to is about to close.
QUIET_SLEEPER = """
import pathlib, sys, time
pathlib.Path(sys.argv[2]).touch()
time.sleep(float(sys.argv[1]))
"""


def test_closed_terminal_ends_the_run_with_a_report(tmp_path):
    status, target = _on_a_terminal(tmp_path, _write(tmp_path, "q.py", QUIET_SLEEPER), "30")
    assert status == 128 + signal.SIGHUP
    out = _outcome(tmp_path)
    assert out["diag_signal"] == "SIGHUP" and out["signal_name"] == "SIGHUP"
    assert not _alive(target)


def test_closed_terminal_under_nohup_lets_the_run_finish(tmp_path):
    # Progress goes to the terminal every second: each write after the close fails with EIO.
    script = _write(tmp_path, "q.py", QUIET_SLEEPER)
    status, _ = _on_a_terminal(tmp_path, script, "2.5", ignore_hup=True)
    assert status == 0
    out = _outcome(tmp_path)
    assert (out["kind"], out["exit_code"], out["diag_signal"]) == ("exit", 0, "")
    assert out["wall_s"] > 2.4


def _family_pids(tmp_path: Path) -> list[int]:
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 4
    return pids


def test_timeout_stops_every_process_the_target_started(tmp_path):
    diag = _diag(tmp_path, "--timeout", "2", _write(tmp_path, "family.py", FAMILY))
    try:
        _, err = _finish(diag, timeout=60)
        assert diag.returncode == 124, err
        pids = _family_pids(tmp_path)
        assert [p for p in pids if _alive(p)] == []
    finally:
        _kill_all(_family_pids(tmp_path) if (tmp_path / "pids").exists() else [])
    assert _outcome(tmp_path)["kind"] == "timeout"


def test_second_ctrl_c_stops_every_process_and_says_diag_did(tmp_path):
    diag = _diag(tmp_path, _write(tmp_path, "family.py", FAMILY), "SIGINT")
    try:
        assert diag.stdout.readline() == "ready\n"
        target = _target_of(diag)
        diag.send_signal(signal.SIGINT)  # passed on a second later, and ignored
        time.sleep(1.5)
        assert _alive(target)
        diag.send_signal(signal.SIGINT)
        _, err = _finish(diag)
        assert diag.returncode == 130, err
        _no_traceback(err)
        assert [p for p in [target, *_family_pids(tmp_path)] if _alive(p)] == []
    finally:
        _kill_all(_family_pids(tmp_path) if (tmp_path / "pids").exists() else [])
    out = _outcome(tmp_path)
    assert out["kind"] == "interrupted" and out["diag_signal"] == "SIGINT"
    assert out["signal_name"] == "SIGTERM" and out["killed_by_diag"]
    stopped = "killed by SIGTERM, sent by diag"
    assert out["detail"] == f"interrupted (Ctrl-C, and diag stopped it); {stopped}"


def test_sigkill_after_timeout_is_said_to_come_from_diag(tmp_path):
    script = _write(tmp_path, "stubborn.py", FAMILY)
    diag = _diag(tmp_path, "--timeout", "0.5", script, "SIGTERM")
    try:
        _, err = _finish(diag, timeout=60)
        assert diag.returncode == 124, err
        assert [p for p in _family_pids(tmp_path) if _alive(p)] == []
    finally:
        _kill_all(_family_pids(tmp_path) if (tmp_path / "pids").exists() else [])
    out = _outcome(tmp_path)
    assert out["signal_name"] == "SIGKILL" and out["killed_by_diag"]
    assert "OOM" not in out["detail"]
    killed = "killed by SIGKILL, sent by diag when SIGTERM had not ended it within 3 s"
    assert out["detail"] == f"stopped by diag after --timeout; {killed}"


HANDLES_CTRL_C = """
import sys
try:
    print("ready", flush=True)
    sys.stdin.read()  # waits for the terminal: a Ctrl-C ends the wait
except KeyboardInterrupt:
    print("saved partial results", flush=True)
    sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_program_that_handles_ctrl_c_keeps_its_exit_status(tmp_path, code):
    script = _write(tmp_path, "handles.py", HANDLES_CTRL_C)
    diag = _diag(tmp_path, script, str(code), stdin=subprocess.PIPE)
    assert diag.stdout.readline() == "ready\n"
    os.killpg(diag.pid, signal.SIGINT)  # the terminal's Ctrl-C: diag and the target both get it
    out_text, err = _finish(diag)
    assert out_text == "saved partial results\n"
    assert diag.returncode == code, err
    out = _outcome(tmp_path)
    assert (out["kind"], out["exit_code"], out["diag_exit_code"]) == ("interrupted", code, code)
    assert out["detail"] == f"interrupted (Ctrl-C); exited with status {code}"


SPINS = """
import time
print("ready", flush=True)
while True:
    sum(range(10000))
"""


def _start_alone(tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "spin.py").write_text(SPINS)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "spin.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _samplers_of(pid: int) -> list[int]:
    return [
        int(p)
        for p in os.listdir("/proc")
        if p.isdigit() and (cmd := _cmdline(int(p))) and "py-spy" in cmd[0] and str(pid) in cmd
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_attached_diag_told_to_stop_detaches_and_leaves_the_process_running(tmp_path, sig):
    proc = _start_alone(tmp_path)
    try:
        diag = _diag(tmp_path, "--pid", str(proc.pid))
        time.sleep(1.5)
        diag.send_signal(sig)
        _, err = _finish(diag)
        assert diag.returncode == 128 + sig, err
        assert proc.poll() is None and _samplers_of(proc.pid) == []
    finally:
        proc.kill()
        proc.wait()
    out = _outcome(tmp_path)
    name = signal.Signals(sig).name
    assert (out["kind"], out["diag_signal"]) == ("detached", name)
    assert out["detail"] == f"detached when diag received {name}; pid {proc.pid} is still running"


def test_attached_diag_told_to_stop_while_py_spy_attaches_leaves_no_sampler(tmp_path):
    proc = _start_alone(tmp_path)
    try:
        diag = _diag(tmp_path, "--pid", str(proc.pid))
        deadline = time.monotonic() + 20
        while not _children(diag.pid) and time.monotonic() < deadline:
            time.sleep(0.0005)
        diag.send_signal(signal.SIGTERM)
        _, err = _finish(diag)
        assert diag.returncode == 143, err
        time.sleep(0.2)
        assert proc.poll() is None and _samplers_of(proc.pid) == []
    finally:
        proc.kill()
        proc.wait()
    assert _outcome(tmp_path)["diag_signal"] == "SIGTERM"


def test_reader_gone_before_the_summary_keeps_the_report_and_the_status(tmp_path):
    # `diag profile x.py 2>&1 | head -1`: the summary meets a closed pipe (EPIPE).
    script = _write(tmp_path, "ends.py", "import sys\nsys.exit(5)\n")
    cmd = [*DIAG[:-1], "--out", str(tmp_path / "r"), script]
    diag = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE)
    diag.stderr.close()
    assert diag.wait(timeout=60) == 5
    assert _outcome(tmp_path)["exit_code"] == 5
