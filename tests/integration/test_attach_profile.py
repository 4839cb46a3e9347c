"""``diag profile --pid``: sample a running process, leave it running, say how the window ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from diagkit.model.report import Report

# Rounds of work with a known answer until told to stop, timing its own hot/cold split.
WORK = """
import os, sys, time
def hot(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
def cold(n):
    s = 0
    for i in range(n):
        s += i
    return s
rounds, total, t_hot, t_cold = 0, 0, 0.0, 0.0
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    t = time.perf_counter(); total += hot(30000); t_hot += time.perf_counter() - t
    t = time.perf_counter(); total += cold(10000); t_cold += time.perf_counter() - t
    rounds += 1
print(rounds, total, t_hot / (t_hot + t_cold), flush=True)
"""

ENDS = """
import sys, time
print("ready", flush=True)
t = time.time()
while time.time() - t < 1.0:
    pass
sys.exit(7)
"""


def _start(tmp_path, code: str, *args: str) -> subprocess.Popen[str]:
    path = tmp_path / "target.py"
    path.write_text(textwrap.dedent(code))
    proc = subprocess.Popen([sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _diag(tmp_path, *args: str, **kw) -> subprocess.Popen[str]:
    out = str(tmp_path / "r")
    cmd = [sys.executable, "-m", "diagkit.cli", "profile", "-q", "--out", out, *args]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, **kw)


def _report(tmp_path) -> Report:
    return Report.from_json((tmp_path / "r" / "report.json").read_text())


def _expected_total(rounds: int) -> int:
    hot = sum(i * i for i in range(30000))
    cold = sum(range(10000))
    return rounds * (hot + cold)


def test_attach_finds_the_hot_function_and_the_target_finishes_correctly(tmp_path):
    stop = tmp_path / "stop"
    proc = _start(tmp_path, WORK, str(stop))
    try:
        # 1-second chunks: attached, py-spy runs back to back too, the last stopped by diag.
        env = {**os.environ, "DIAGKIT_CHUNK_S": "1"}
        diag = _diag(tmp_path, "--pid", str(proc.pid), "--duration", "4", env=env)
        _, err = diag.communicate(timeout=60)
        assert diag.returncode == 0, err
        time.sleep(0.3)
        assert proc.poll() is None, "the target must still be running after diag detached"
        stop.touch()
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    rounds, total, true_share = out.split()
    assert int(rounds) > 0 and int(total) == _expected_total(int(rounds))  # finished, and right
    rep = _report(tmp_path)
    assert rep.target.kind == "attach" and rep.target.pid == proc.pid
    assert rep.outcome.kind == "detached" and "still running" in rep.outcome.detail
    assert 3.8 < rep.outcome.wall_s < 6
    # One rate throughout, nonblocking; the chunks' files are folded into the one.
    wall = rep.outcome.wall_s
    assert rep.time.nonblocking and rep.time.slow_rate_hz == 0 and rep.time.chunks >= 3
    assert rep.time.samples < 250 * wall + 60 and "attached by pid" in rep.time.source
    assert sorted(p.name for p in (tmp_path / "r").glob("*.json")) == [
        "profile.speedscope.json",
        "profile.trace.json",
        "report.json",
    ]
    funcs = {f.name: f for f in rep.time.functions}
    hot, cold = funcs["hot"].total_share, funcs["cold"].total_share
    assert abs(hot / (hot + cold) - float(true_share)) < 0.12, (hot, cold, true_share)
    assert rep.memory.available and rep.memory.timeline and rep.memory.peak_rss > 2**20
    assert rep.files["speedscope"] == "profile.speedscope.json"
    assert (tmp_path / "r" / "profile.speedscope.json").stat().st_size > 0
    for sec in (rep.jit, rep.numerics, rep.ranges):
        assert not sec.available and "running" in sec.unavailable_reason


def test_ctrl_c_detaches_and_leaves_the_target_running(tmp_path):
    proc = _start(tmp_path, WORK, str(tmp_path / "never"))
    try:
        diag = _diag(tmp_path, "--pid", str(proc.pid))
        time.sleep(1.5)
        diag.send_signal(signal.SIGINT)
        _, err = diag.communicate(timeout=30)
        assert diag.returncode == 0, err
        time.sleep(0.2)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    rep = _report(tmp_path)
    assert rep.outcome.kind == "detached" and rep.outcome.detail.startswith("detached at Ctrl-C")
    assert rep.time.available and any(f.name == "hot" for f in rep.time.functions)


def test_exit_while_attached_reads_the_status_of_an_unreaped_process(tmp_path):
    proc = _start(tmp_path, ENDS)  # not reaped by us until the end: diag sees the zombie
    try:
        diag = _diag(tmp_path, "--pid", str(proc.pid), "--duration", "30")
        _, err = diag.communicate(timeout=60)
        assert diag.returncode == 0, err
    finally:
        proc.wait()
    out = _report(tmp_path).outcome
    assert (out.kind, out.exit_code) == ("exit", 7)
    assert out.wall_s < 5


def test_exit_of_a_reaped_process_says_its_status_is_unknown(tmp_path):
    proc = _start(tmp_path, ENDS)
    threading.Thread(target=proc.wait, daemon=True).start()  # reaped at once, as a shell would
    try:
        diag = _diag(tmp_path, "--pid", str(proc.pid), "--duration", "30")
        _, err = diag.communicate(timeout=60)
        assert diag.returncode == 0, err
    finally:
        proc.kill()
    out = _report(tmp_path).outcome
    assert out.kind == "exit"
    # diag may still catch the zombie in the instant before the reap: then it knows the status.
    assert out.detail == "exited (status unknown: not our child)" or out.exit_code == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pid", "4194304"], "no process with pid 4194304"),
        (["--duration", "3", "x.py"], "--duration goes with --pid"),
        (["--pid", "1", "x.py"], "give no script or -m"),
        (["--pid", "1", "--duration", "0"], "Invalid value for '--duration'"),
    ],
)
def test_bad_attach_input_is_one_line(tmp_path, args, message):
    diag = _diag(tmp_path, *args)
    _, err = diag.communicate(timeout=30)
    assert diag.returncode != 0 and err.startswith("diag: error: ") and message in err
    assert err.count("\n") == 1
