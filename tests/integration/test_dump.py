"""``diag dump`` on real running processes: deadlock, busy loop, sleeper, pool, locals, --name.

Each target prints "ready" once it is where the test wants it; every target is
killed when its test ends, whatever happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from diagkit.model.dump import DumpResult

DEADLOCK = """
import threading, time
a, b = threading.Lock(), threading.Lock()
def worker_ab():
    with a:
        time.sleep(0.2)
        with b:
            pass
def worker_ba():
    with b:
        time.sleep(0.2)
        with a:
            pass
t1 = threading.Thread(target=worker_ab, name="ab")
t2 = threading.Thread(target=worker_ba, name="ba")
t1.start(); t2.start()
time.sleep(0.4)
print("ready", flush=True)
t1.join()
"""

BUSY = """
def spin():
    x = 0
    while True:
        x += 1
print("ready", flush=True)
spin()
"""

SLEEPER = """
import sys, time
keep = open(sys.argv[1], "w")
def nap():
    time.sleep(60)
print("ready", flush=True)
nap()
"""

POOL = """
import multiprocessing as mp, os, time
def init(queue):
    global started
    started = queue
def task(i):
    started.put(os.getpid())
    time.sleep(60)
if __name__ == "__main__":
    mp.set_start_method("fork")
    queue = mp.Queue()
    with mp.Pool(2, initializer=init, initargs=(queue,)) as pool:
        pool.map_async(task, range(2), chunksize=1)
        print("ready", queue.get(), queue.get(), flush=True)
        time.sleep(60)
"""

LOCALS = """
import numpy as np, time
def fit():
    design = np.zeros((300, 40), dtype=np.float32)
    label = "x" * 5000
    time.sleep(60)
print("ready", flush=True)
fit()
"""


@pytest.fixture
def spawn(tmp_path):
    """``spawn(code, *args)`` -> a running target that has printed "ready"."""
    procs: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        path = tmp_path / f"target{len(procs)}.py"
        path.write_text(textwrap.dedent(code))
        proc = subprocess.Popen(
            [sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True, cwd=tmp_path
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready"), line
        proc.said = line.split()[1:]  # type: ignore[attr-defined]  # what came after "ready"
        return proc

    yield start
    for proc in procs:
        try:
            for kid in psutil.Process(proc.pid).children(recursive=True):
                kid.kill()
        except psutil.Error:
            pass
        proc.kill()
        proc.wait()


def diag(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diagkit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dump_json(*args: str) -> DumpResult:
    out = diag("dump", "--json", *args)
    assert out.returncode == 0, out.stderr
    return DumpResult.from_json(out.stdout)


def _line_of(code: str, text: str, after: str) -> int:
    """The line number of ``text``, the first one after the line ``after``."""
    lines = textwrap.dedent(code).splitlines()
    start = lines.index(after)
    return next(i for i, ln in enumerate(lines[start:], start + 1) if ln.strip() == text)


def test_deadlock_is_stuck_in_the_lock_acquiring_lines(spawn):
    proc = spawn(DEADLOCK)
    out = diag("dump", "--pid", str(proc.pid), "--repeat", "3", "--interval", "0.2")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[:3]
    assert first[0].startswith(f"pid {proc.pid}")
    assert "verdict  stuck: no thread moved or used CPU in 3 dumps" in first[1]  # verdict leads
    res = dump_json("--pid", str(proc.pid), "--repeat", "2", "--interval", "0.2")
    v = {x.name: x for x in res.processes[0].verdicts}
    assert set(v) == {"ab", "ba", "MainThread"}
    assert (v["ab"].verdict, v["ab"].function, v["ab"].line) == (
        "stuck",
        "worker_ab",
        _line_of(DEADLOCK, "with b:", "def worker_ab():"),
    )
    assert (v["ba"].verdict, v["ba"].function, v["ba"].line) == (
        "stuck",
        "worker_ba",
        _line_of(DEADLOCK, "with a:", "def worker_ba():"),
    )
    assert v["ab"].source == "with b:" and v["ab"].cpu_share < 0.02
    assert "stuck in worker_ab (target0.py:7)" in out.stdout


def test_busy_loop_is_busy_with_its_cpu(spawn):
    proc = spawn(BUSY)
    res = dump_json("--pid", str(proc.pid), "--repeat", "3", "--interval", "0.25")
    (main,) = res.processes[0].verdicts
    assert (main.verdict, main.function) == ("busy", "spin")
    assert main.cpu_share > 0.2  # a spinning thread, even on a crowded machine
    assert res.processes[0].summary.startswith("busy: 1 busy of 1 threads")
    last = res.processes[0].dumps[-1]
    assert last.threads[0].active is True and last.process.cpu_share > 0.2


def test_single_dump_of_a_sleeper_with_its_process_facts(spawn, tmp_path):
    held = tmp_path / "held.txt"
    proc = spawn(SLEEPER, str(held))
    res = dump_json("--pid", str(proc.pid))
    (p,) = res.processes
    assert p.verdicts == [] and len(p.dumps) == 1
    sec = p.dumps[0]
    assert sec.source == "py-spy dump"
    (th,) = sec.threads
    assert th.thread_id == proc.pid and th.name == "MainThread"
    assert th.active is False and th.os_state == "sleeping" and th.cpu_share < 0.05
    assert [f.function for f in th.frames] == ["nap", "<module>"]
    f = sec.process
    assert f.pid == proc.pid and f.ppid == psutil.Process().pid
    assert f.cmdline[1:] == [str(tmp_path / "target0.py"), str(held)]
    assert str(held) in f.open_files and f.threads == 1
    # The facts are read after py-spy lets go, and its detach wakes the thread to restart
    # its sleep: on a loaded machine it may still be waiting for a CPU, and reads as running.
    assert f.state in ("sleeping", "running")
    assert 2 * 2**20 < f.rss < 500 * 2**20
    assert 0 < f.running_s < 60 and f.cpu_share is not None and f.cpu_share < 0.05


def test_native_frames_show_the_c_call_under_python(spawn):
    proc = spawn(SLEEPER, "/dev/null")
    res = dump_json("--pid", str(proc.pid), "--native")
    frames = res.processes[0].dumps[0].threads[0].frames
    natives = [f.function for f in frames if f.native]
    assert any("sleep" in n for n in natives), natives
    assert [f.function for f in frames if not f.native] == ["nap", "<module>"]


def test_locals_show_arrays_by_shape_and_dtype(spawn):
    proc = spawn(LOCALS)
    res = dump_json("--pid", str(proc.pid), "--locals")
    fit = next(f for f in res.processes[0].dumps[0].threads[0].frames if f.function == "fit")
    assert fit.locals["design"] == "<ndarray shape=(300, 40) dtype=float32, 46.9 KiB>"
    assert fit.locals["label"] == "<str of 5,000 characters>"


def test_children_finds_every_pool_worker(spawn):
    proc = spawn(POOL)
    workers = {int(pid) for pid in proc.said}
    assert len(workers) == 2
    res = dump_json("--pid", str(proc.pid), "--children")
    by_pid = {p.pid: p for p in res.processes}
    assert workers <= set(by_pid) and res.processes[0].pid == proc.pid
    for w in workers:
        assert by_pid[w].child_of == proc.pid
        funcs = [f.function for th in by_pid[w].dumps[0].threads for f in th.frames]
        assert "task" in funcs
    assert {c.pid for c in by_pid[proc.pid].dumps[0].process.children} >= workers


def test_name_dumps_every_matching_python_process_but_not_diag(spawn, tmp_path):
    tag = f"tag{tmp_path.name[-12:]}"
    a = spawn(SLEEPER, str(tmp_path / f"{tag}-a"))
    b = spawn(SLEEPER, str(tmp_path / f"{tag}-b"))
    shell = subprocess.Popen(["sh", "-c", f"sleep 30; : {tag}"])
    try:
        res = dump_json("--name", tag)
    finally:
        shell.kill()
        shell.wait()
    assert sorted(p.pid for p in res.processes) == sorted([a.pid, b.pid])
    assert any("not Python" in n and str(shell.pid) in n for n in res.notes)


def test_process_exiting_during_the_dumps_is_one_error_line(spawn):
    proc = spawn("import time\nprint('ready', flush=True)\ntime.sleep(0.6)\n")
    out = diag("dump", "--pid", str(proc.pid), "--repeat", "20", "--interval", "0.2")
    assert out.returncode == 3
    err = out.stderr.strip()
    assert err.startswith(f"diag: error: pid {proc.pid} exited during the dumps (after ")
    assert "\n" not in err and "Traceback" not in out.stdout + out.stderr
    assert f"pid {proc.pid}" in out.stdout  # what was seen before it left is still shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pid", "4194304"], "no process with pid 4194304"),
        (["--pid", "1", "--repeat", "0"], "Invalid value for '--repeat'"),
        (["--pid", "1", "--interval", "0"], "Invalid value for '--interval'"),
        (["--pid", "1", "--interval", "-2"], "Invalid value for '--interval'"),
        ([], "give --pid PID, --name PATTERN or --dask ADDRESS"),
        (["--name", "("], "not a regular expression"),
    ],
)
def test_bad_input_is_one_line(args, message):
    out = diag("dump", *args)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.startswith("diag: error: ") and message in out.stderr
    assert out.stderr.count("\n") == 1


def test_not_python_and_zombie_are_refused_plainly():
    sleeper = subprocess.Popen(["sleep", "30"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.02)  # exited, and not reaped until zombie.wait() below
        out = diag("dump", "--pid", str(sleeper.pid))
        assert out.returncode == 3 and "is not a Python process" in out.stderr
        assert "/sleep" in out.stderr
        out = diag("dump", "--pid", str(zombie.pid))
        assert out.returncode == 3 and f"pid {zombie.pid} is a zombie" in out.stderr
        assert out.stderr.count("\n") == 1
    finally:
        sleeper.kill()
        sleeper.wait()
        zombie.wait()


def test_text_output_is_json_free_and_json_is_complete(spawn):
    proc = spawn(SLEEPER, "/dev/null")
    raw = diag("dump", "--pid", str(proc.pid), "--json")
    data = json.loads(raw.stdout)
    assert data["repeat"] == 1 and data["processes"][0]["pid"] == proc.pid
    assert data["command"][:2] == ["diag", "dump"]
    text = diag("dump", "--pid", str(proc.pid)).stdout
    assert "nap (" in text and "{" not in text.splitlines()[0]


def test_dump_leaves_the_target_unharmed(spawn):
    proc = spawn(SLEEPER, "/dev/null")
    for _ in range(2):
        assert diag("dump", "--pid", str(proc.pid), "--locals", "--native").returncode == 0
    assert proc.poll() is None and Path(f"/proc/{proc.pid}").exists()
