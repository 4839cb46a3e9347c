"""The guide's profile, attach and dump recipes, run as a new user types them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagkit._paths import PACKAGE_DIR, TARGET_DIR
from tests.conftest import ROOT, run_diag

SHOW_ARGV = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"


def _argv(stdout: str) -> list[str]:
    return json.loads(stdout.strip().splitlines()[-1])


# --- every word after -m MODULE or SCRIPT is the program's ---------------------------------


def test_words_after_module_are_the_programs(tmp_path):
    pkg = tmp_path / "showargs"
    pkg.mkdir()
    (pkg / "__main__.py").write_text(SHOW_ARGV)
    words = ["-q", "--timeout", "5", "--out", "elsewhere", "-x", "--", "last"]
    run = run_diag(["profile", "-m", "showargs", *words], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _argv(run.stdout) == words
    assert run.report.outcome.exit_code == 0  # the report went to diag's own --out
    assert not (tmp_path / "elsewhere").exists()
    assert "Report" in run.stderr  # -q was the program's: diag still printed its summary

    glued = run_diag(["profile", "-mshowargs", "-q"], cwd=tmp_path)
    assert glued.returncode == 0, glued.stderr
    assert _argv(glued.stdout) == ["-q"]


def test_words_after_script_are_the_programs_and_double_dash_ends_diags(tmp_path, script):
    target = script("showargs.py", SHOW_ARGV)
    run = run_diag(["profile", "-q", "--", str(target), "-m", "x", "--timeout", "1"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _argv(run.stdout) == ["-m", "x", "--timeout", "1"]
    assert run.stderr == ""  # the -q before the script was diag's


def test_profile_help_shows_both_forms(tmp_path):
    run = run_diag(["profile", "--help"], cwd=tmp_path)
    assert "diag profile [OPTIONS] SCRIPT [ARGS]..." in run.stdout
    assert "diag profile [OPTIONS] -m MODULE [ARGS]..." in run.stdout


# --- attach works on whatever python was started with --------------------------------------

BUSY = """
import time
def crunch():
    t = time.time()
    while time.time() - t < 20:
        sum(range(1000))
crunch()
"""


def _attach(tmp_path: Path, argv: list[str]) -> object:
    proc = subprocess.Popen([sys.executable, *argv], cwd=tmp_path)
    try:
        time.sleep(0.5)  # past the interpreter's start-up
        run = run_diag(["profile", "--pid", str(proc.pid), "--duration", "1.5"], cwd=tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert run.returncode == 0, run.stderr
    return run.report.time


@pytest.mark.parametrize("how", ["module", "command"])
def test_attach_keeps_the_main_thread_of_python_m_and_c(tmp_path, how):
    (tmp_path / "busypkg").mkdir()
    (tmp_path / "busypkg" / "__main__.py").write_text(BUSY)
    argv = ["-m", "busypkg"] if how == "module" else ["-c", BUSY]
    time_sec = _attach(tmp_path, argv)
    assert time_sec.available, time_sec.unavailable_reason
    crunch = next(f for f in time_sec.functions if f.name == "crunch")
    assert crunch.total_share > 0.9
    assert [t.thread.endswith('"MainThread"') for t in time_sec.threads] == [True]
    assert time_sec.threads[0].share == pytest.approx(1.0)


# --- idle threads are left out; shares never pass 100% --------------------------------------

WAITERS = """
import os, select, threading, time
def event(): threading.Event().wait()
def sleeper(): time.sleep(100)
def selecting():
    r, _ = os.pipe()
    select.select([r], [], [])
def locked():
    lock = threading.Lock(); lock.acquire(); lock.acquire()
for f in (event, sleeper, selecting, locked):
    threading.Thread(target=f, name=f.__name__, daemon=True).start()
def crunch():
    t = time.time()
    while time.time() - t < 2:
        sum(range(1000))
crunch()
"""


def test_waiting_threads_are_left_out_unless_idle(tmp_path, script):
    target = script("waiters.py", WAITERS)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    sec = run.report.time
    # A waiter caught before its wait (os.pipe() in selecting) may hold a sample: its wait never.
    waits = {f.name: f.total_share for f in sec.functions}
    waits = {
        n: s for n, s in waits.items() if n in {"Condition.wait", "sleeper", "selecting", "locked"}
    }
    assert sum(waits.values()) < 0.03, waits
    # A waiter may be caught starting, before its wait (a sample or two, its name not yet
    # readable): its waiting must never count.
    shares = {t.thread.rsplit('"', 2)[1]: t.share for t in sec.threads}
    assert shares["MainThread"] > 0.97, shares
    assert sum(s for name, s in shares.items() if name != "MainThread") < 0.03, shares
    assert max(f.own_share for f in sec.functions) <= 1.0

    kept = run_diag(["profile", "-q", "--idle", str(target)], cwd=tmp_path, out=tmp_path / "idle")
    idle = kept.report.time
    assert {"Condition.wait", "sleeper", "selecting", "locked"} <= {f.name for f in idle.functions}
    assert sum(t.share for t in idle.threads) == pytest.approx(1.0)
    assert all(t.share <= 1.0 for t in idle.threads)


def test_waiting_threads_are_left_out_with_native_frames(tmp_path, script):
    target = script("waiters.py", WAITERS)
    run = run_diag(["profile", "-q", "--native", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    sec = run.report.time
    # A waiter can be sampled once in its first moment, before it reaches its wait (its start
    # races the sampler's first samples): the waits themselves must all be left out.
    (main,) = [t for t in sec.threads if t.thread.endswith('"MainThread"')]
    assert main.share >= 0.95, sec.threads
    assert "crunch" in {f.name for f in sec.functions}


# --- a Pool run is told about --subprocesses; diag's frames never show ---------------------

POOL = """
import multiprocessing as mp
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.map(work, [2_000_000] * 16)
"""


def test_pool_run_suggests_subprocesses(tmp_path, script):
    target = script("pooled.py", POOL)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    notes = [n for n in run.report.notes if "--subprocesses" in n]
    assert notes, run.report.notes
    assert "child processes were not sampled" in notes[0]

    sub = run_diag(
        ["profile", "-q", "--subprocesses", str(target)], cwd=tmp_path, out=tmp_path / "sub"
    )
    assert sub.returncode == 0, sub.stderr
    assert not [n for n in sub.report.notes if "--subprocesses" in n]
    fns = sub.report.time.functions
    assert "work" in {f.name for f in fns}
    assert not [f for f in fns if f.name.startswith("process ") or f.file.startswith(PACKAGE_DIR)]


TIMEOUT = """
import diagkit
for i in range(80_000):  # one statistic per name: the flush at SIGTERM takes a while
    with diagkit.range(f"r{i}"):
        pass
def spin():
    while True:
        sum(range(1000))
spin()
"""


@pytest.mark.slow
def test_timeout_samples_count_for_the_program_not_diags_handler(tmp_path, script):
    target = script("stopped.py", TIMEOUT)
    run = run_diag(["profile", "-q", "--timeout", "1.5", str(target)], cwd=tmp_path)
    assert run.returncode == 124, run.stderr
    bootstrap = TARGET_DIR + os.sep
    fns = run.report.time.functions
    assert "spin" in {f.name for f in fns}
    assert not [f.name for f in fns if f.file.startswith(bootstrap)]


# --- the packages list is what the program imported -----------------------------------------


def test_packages_are_the_programs_imports(tmp_path, script):
    bare = run_diag(["profile", "-q", str(script("bare.py", "x = 1\n"))], cwd=tmp_path)
    assert [p.name for p in bare.report.environment.packages] == ["diagkit"]

    target = script("demo.py", "import estimator_core, click\n")
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path, out=tmp_path / "demo")
    pk = {p.name: p for p in run.report.environment.packages}
    assert {"diagkit", "click"} <= set(pk)  # and numpy, which estimator_core imports
    assert not {"numba", "cupy"} & set(pk)
    if pk["diagkit"].editable:  # this checkout's diagkit and estimator_core, side by side
        assert sorted(pk["diagkit"].modules) == ["diagkit", "estimator_core"]
        assert pk["diagkit"].location == str(ROOT)
    import click

    assert pk["click"].location == os.path.dirname(os.path.dirname(click.__file__))


# --- dump --name finds the program, never diag ----------------------------------------------


@pytest.mark.parametrize("started_as", ["console script", "python -m"])
def test_dump_by_name_skips_diag_and_its_py_spy(tmp_path, script, started_as):
    target = script("named_target.py", BUSY)
    diag = shutil.which("diag")
    if started_as == "console script" and diag is None:
        pytest.skip("the diag console script is not on PATH")
    launcher = [diag] if started_as == "console script" else [sys.executable, "-m", "diagkit.cli"]
    runner = subprocess.Popen(
        [*launcher, "profile", "-q", "--timeout", "20", "--out", str(tmp_path / "r"), str(target)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = run_diag(["dump", "--name", "named_target|speedscope", "--json"], cwd=tmp_path)
            procs = json.loads(found.stdout)["processes"] if found.returncode == 0 else []
            if any(p.get("dumps") for p in procs):
                break
            time.sleep(0.3)
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
    finally:
        runner.terminate()
        runner.wait(timeout=15)
    assert len(result["processes"]) == 1, [p["pid"] for p in result["processes"]]
    assert result["processes"][0]["pid"] != runner.pid
    assert not result["notes"]  # not even py-spy, which diag started, as a skipped match
