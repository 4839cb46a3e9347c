"""Nonblocking, time-weighted sampling (the default): shares against the truth each program
measures in the same run, across py-spy's chunks, and for a thread that ends early."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_diag

NUMBA = """
import time
start = time.perf_counter()
import json, sys
import numpy as np
from numba import njit

def build():
    @njit
    def kernel(a, b):
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * b[i] + np.sin(a[i]) * np.cos(b[i])
        return s
    @njit
    def outer(a, b, n):
        t = 0.0
        for k in range(n):
            t += kernel(a, b) / (k + 1)
        return t
    return outer

def first_call(f, a, b):  # compiles both functions: deep stacks that change fast
    return f(a, b, 1)

def steady(f, a, b, seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        f(a, b, 20)

a, b = np.random.rand(20_000), np.random.rand(20_000)
f = build()
t0 = time.perf_counter(); first_call(f, a, b); t1 = time.perf_counter()
steady(f, a, b, 0.6)
end = time.perf_counter()
json.dump({"compile": (t1 - t0) / (end - start)}, open(sys.argv[1], "w"))
"""


def test_a_numba_compile_keeps_its_true_share(tmp_path, script):
    """A compile's stacks change fastest, so its nonblocking reads fail most: counting the
    samples that succeeded under-counts it by 8-10 points, timing them does not."""
    target = script("compiling.py", NUMBA)
    run = run_diag(["profile", "-q", str(target), str(tmp_path / "truth.json")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())["compile"]
    t = run.report.time
    assert t.nonblocking and "nonblocking 250 Hz, time-weighted" in t.source, t.source
    assert t.sample_reads >= t.sample_errors
    first = next(f for f in t.functions if f.name == "first_call")
    assert first.total_share == pytest.approx(truth, abs=0.06), (first.total_share, truth)


PHASED = """
import json, sys, time
start = time.perf_counter()

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def early():
    spin(2.1)

def late():
    spin(1.4)

early()
mid = time.perf_counter()
late()
end = time.perf_counter()
json.dump({"late": (end - mid) / (end - start)}, open(sys.argv[1], "w"))
"""


def test_a_run_longer_than_a_chunk_is_one_timeline_with_small_seams(tmp_path, script):
    target = script("phased.py", PHASED)
    run = run_diag(
        ["profile", "-q", str(target), str(tmp_path / "t.json")],
        cwd=tmp_path,
        env={"DIAGKIT_CHUNK_S": "1"},
    )
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "t.json").read_text())["late"]
    t = run.report.time
    assert t.chunks >= 3 and f"{t.chunks} chunks" in t.source, t.source
    # py-spy attaching again takes tens of ms; a seam is time no sample covers.
    assert 0 < t.seams_s < 0.15 * (t.chunks - 1), t.seams_s
    funcs = {f.name: f for f in t.functions}
    assert funcs["late"].total_share == pytest.approx(truth, abs=0.05)
    assert funcs["early"].total_share == pytest.approx(1 - truth, abs=0.05)
    # Counts stay counts of sampling intervals: ~250 a second, not one per merged run.
    assert t.samples > 0.8 * 250 * (t.active_s - t.seams_s)
    # Each chunk's file was folded in and deleted; the one file is a speedscope timeline.
    assert sorted(p.name for p in run.out_dir.iterdir() if "chrometrace" in p.name) == []
    doc = json.loads((run.out_dir / "profile.speedscope.json").read_text())
    (prof,) = doc["profiles"]
    assert len(prof["slots"]) == len(prof["samples"]) == len(prof["weights"])


ENDED_THREAD = """
import json, sys, threading, time

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

took = {}
def worker():
    a = time.perf_counter(); spin(0.5); took["worker"] = time.perf_counter() - a

def main_work():
    a = time.perf_counter(); spin(2.5); took["main"] = time.perf_counter() - a

th = threading.Thread(target=worker, name="worker")
th.start()
main_work()
th.join()
json.dump(took["worker"] / (took["worker"] + took["main"]), open(sys.argv[1], "w"))
"""


def test_a_thread_that_ended_early_keeps_its_true_share(tmp_path, script):
    """py-spy keeps an ended thread's last stack open until it stops: without cutting it at
    the thread's end, the worker would get ~50% instead of its ~17%."""
    target = script("ended.py", ENDED_THREAD)
    run = run_diag(["profile", "-q", str(target), str(tmp_path / "t.json")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "t.json").read_text())
    funcs = {f.name: f for f in run.report.time.functions}
    assert funcs["worker"].total_share == pytest.approx(truth, abs=0.05)
    # py-spy may cache a thread it met before the thread was named: the one that is not main.
    (worker,) = [t for t in run.report.time.threads if not t.thread.endswith('"MainThread"')]
    assert worker.share == pytest.approx(truth, abs=0.05)


POOL = """
import json, sys, threading, time

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def solo():
    spin(0.6)

def pooled():
    time.sleep(1.8)  # 40 threads that wait: py-spy reads every one of them all the same

a = time.perf_counter(); solo(); b = time.perf_counter()
pool = [threading.Thread(target=pooled) for _ in range(40)]
for th in pool:
    th.start()
spin(1.8)
for th in pool:
    th.join()
c = time.perf_counter()
json.dump({"solo": (b - a) / (c - a)}, open(sys.argv[1], "w"))
"""


def test_many_threads_lower_the_rate_and_the_shares_stay_true(tmp_path, script):
    """py-spy's cost grows with the threads it reads: the chunk running when 41 threads
    appear ends early and the next samples at what 2000 reads a second allow them."""
    target = script("pool.py", POOL)
    run = run_diag(["profile", "-q", str(target), str(tmp_path / "t.json")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    t = run.report.time
    assert (t.rate_hz, t.chunks) == (250, 2), t.source
    assert 20 <= t.slow_rate_hz <= 2000 // 41 and 0.5 < t.slow_after_s < 1.2, t.source
    assert f"({t.slow_rate_hz} Hz from {t.slow_after_s:g} s, for its threads)" in t.source
    truth = json.loads((tmp_path / "t.json").read_text())["solo"]
    funcs = {f.name: f for f in t.functions}
    # The waiting threads leave the tables: the main thread's work is weighed by time across
    # the change of rate (counted in samples, 0.6 s at 250 Hz would outweigh 1.8 s at 48 Hz).
    assert funcs["solo"].total_share == pytest.approx(truth, abs=0.05)
    # An explicit --rate holds, however many threads.
    fixed = run_diag(
        ["profile", "-q", "--rate", "250", str(target), str(tmp_path / "t2.json")], cwd=tmp_path
    )
    assert fixed.returncode == 0, fixed.stderr
    assert (fixed.report.time.slow_rate_hz, fixed.report.time.chunks) == (0, 1)


SHORT = """
def work():
    s = 0
    for i in range(3_000_000):
        s += i
work()
"""


def test_blocking_and_native_sample_blocking_and_say_so(tmp_path, script):
    target = script("short.py", SHORT)
    blocking = run_diag(["profile", "-q", "--blocking", str(target)], cwd=tmp_path)
    assert blocking.returncode == 0, blocking.stderr
    t = blocking.report.time
    assert not t.nonblocking and t.chunks == 0 and t.rate_hz == 200
    assert t.source.endswith("Hz, blocking"), t.source
    assert "work" in {f.name for f in t.functions}
    native = run_diag(
        ["profile", "-q", "--native", str(target)], cwd=tmp_path, out=tmp_path / "native"
    )
    assert native.returncode == 0, native.stderr
    n = native.report.time
    assert n.native and not n.nonblocking and "native frames, blocking" in n.source, n.source


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--blocking", "--nonblocking"], "give one of them"),
        (["--native", "--nonblocking"], "--native"),
    ],
)
def test_contradicting_sampling_modes_are_refused(tmp_path, script, flags, said):
    target = script("short.py", SHORT)
    run = run_diag(["profile", "-q", *flags, str(target)], cwd=tmp_path)
    assert run.returncode != 0 and said in run.stderr, run.stderr
    assert not (tmp_path / "report" / "report.json").exists()


def test_help_says_nonblocking_is_the_default(tmp_path):
    run = run_diag(["profile", "--help"], cwd=tmp_path)
    text = " ".join(run.stdout.split())
    assert "--nonblocking" in text and "(the default)" in text and "--blocking" in text


IDLE_POOL = """
import time
from concurrent.futures import ThreadPoolExecutor

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

pool = ThreadPoolExecutor(4)
list(pool.map(abs, range(-8, 0)))  # the workers start, then wait for work in C
spin(0.8)
pool.shutdown()
"""


def test_thread_pool_workers_waiting_for_work_leave_the_tables(tmp_path, script):
    """A ThreadPoolExecutor worker waits in SimpleQueue.get, which is C: its innermost
    Python frame is ``_worker`` on ``work_queue.get(block=True)``, a wait like any other."""
    target = script("pool.py", IDLE_POOL)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    funcs = {f.name: f for f in run.report.time.functions}
    assert "_worker" not in funcs or funcs["_worker"].own_share < 0.02
    assert funcs["spin"].total_share > 0.9
