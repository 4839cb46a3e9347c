"""A real dask.distributed LocalCluster (processes, loopback only): ``diag dump --dask`` names
a stuck task and a busy one with their workers and keys, a wrong address is one line, and the
estimator's Dask backend gives the NumPy backend's answers."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import run_diag

# Checked, not imported: importing distributed here would bring its importlib_metadata
# finder into every later test of the session.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs dask.distributed"
)

CLUSTER = """
import sys, threading, time
from distributed import Client, LocalCluster

def stuck_forever():
    threading.Event().wait()

def busy_forever():
    n = 0
    while True:
        n += 1

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    a, b = sorted(client.scheduler_info()["workers"])
    f1 = client.submit(stuck_forever, workers=[a], key="stuck-1")
    f2 = client.submit(busy_forever, workers=[b], key="busy-2")
    while len(client.processing()[a]) + len(client.processing()[b]) < 2:
        time.sleep(0.05)
    time.sleep(1.5)  # the workers' heartbeats have told the scheduler how long each has run
    print(cluster.scheduler_address, a, b, flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def _cluster_script(folder, name: str, code: str):
    """Run a script that starts a cluster and prints one line about it; yield that line's
    words, and kill the script with its cluster (its process group) at the end."""
    (folder / name).write_text(code)
    proc = subprocess.Popen(
        [sys.executable, name],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        words = proc.stdout.readline().split()
        assert len(words) == 3, "the cluster did not start"
        yield words
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with _cluster_script(tmp_path_factory.mktemp("cluster"), "cluster.py", CLUSTER) as words:
        yield tuple(words)


def test_the_dump_names_a_stuck_and_a_busy_task_with_their_workers(cluster, tmp_path):
    address, a, b = cluster
    assert address.startswith("tcp://127.0.0.1:")
    run = run_diag(["dump", "--dask", address, "--json", "--interval", "0.5"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    workers = {w["address"]: w for w in data["workers"]}
    assert set(workers) == {a, b}
    for w in workers.values():
        assert w["path"] == "nanny" and w["error"] == "" and w["pid"] > 0
    (stuck,) = workers[a]["tasks"]
    assert (stuck["key"], stuck["prefix"], stuck["verdict"]) == ("stuck-1", "stuck", "stuck")
    assert stuck["function"] == "stuck_forever" and stuck["running_s"] > 0
    (busy,) = workers[b]["tasks"]
    assert (busy["key"], busy["verdict"]) == ("busy-2", "busy")
    assert busy["function"] == "busy_forever"
    assert any("stuck-1" in v and "is stuck" in v for v in data["verdicts"])
    text = run_diag(["dump", "--dask", address], cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "task stuck-1 for" in text.stdout and ": stuck in stuck_forever" in text.stdout
    assert "task busy-2 for" in text.stdout and ": busy in busy_forever" in text.stdout


def test_a_dead_or_wrong_address_is_one_line_within_the_timeout(tmp_path):
    t0 = time.monotonic()
    dead = run_diag(["dump", "--dask", "tcp://127.0.0.1:9", "--timeout", "2"], cwd=tmp_path)
    assert time.monotonic() - t0 < 15
    assert dead.returncode != 0 and "Traceback" not in dead.stderr
    (line,) = dead.stderr.strip().splitlines()
    assert line.startswith(
        "diag: error: no Dask scheduler answered at tcp://127.0.0.1:9 within 2 s"
    )
    wrong = run_diag(["dump", "--dask", "nonsense://x", "--timeout", "2"], cwd=tmp_path)
    assert wrong.returncode != 0 and len(wrong.stderr.strip().splitlines()) == 1
    both = run_diag(["dump", "--dask", "tcp://127.0.0.1:9", "--pid", "1"], cwd=tmp_path)
    assert both.returncode != 0 and "--dask dumps a cluster" in both.stderr


PARITY = """
import json, sys
import numpy as np
from distributed import Client, LocalCluster
import estimator_core as ec

if __name__ == "__main__":
    sim = ec.simulate_panel(n_units=400, n_periods=5, seed=3)
    cols = ("y", "period", "id", "first_treat")
    kw = {"biters": 300, "random_state": 11}
    ref = ec.att_gt(sim.data, *cols, backend="numpy", **kw)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        got = ec.att_gt(sim.data, *cols, backend="dask", **kw)
    out = {"backend": got.backend, "crit": [got.crit_val, ref.crit_val]}
    for name in ("att", "se", "se_analytical"):
        out[name] = float(np.max(np.abs(getattr(got, name) - getattr(ref, name))))
    json.dump(out, sys.stdout)
"""


def test_the_dask_backend_gives_the_numpy_backends_answers(tmp_path):
    # In a process of its own: a cluster started inside pytest's would outlive the test.
    (tmp_path / "parity.py").write_text(PARITY)
    done = subprocess.run(
        [sys.executable, "parity.py"], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["backend"] == "dask"
    assert got["att"] <= 1e-9 and got["se"] <= 1e-9 and got["se_analytical"] <= 1e-9
    assert got["crit"][0] == pytest.approx(got["crit"][1], abs=1e-9)


def test_the_dask_backend_without_a_client_says_how_to_start_one(tmp_path):
    code = (
        "import estimator_core as ec\n"
        "sim = ec.simulate_panel(n_units=50, n_periods=3, seed=1)\n"
        "try:\n"
        "    ec.att_gt(sim.data, 'y', 'period', 'id', 'first_treat', backend='dask')\n"
        "except ec.BackendUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "there is none: start one first" in done.stdout


WORKLOAD = """
import os, sys, time
from distributed import Client, LocalCluster

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def hot_task(i):
    spin(0.03)
    return i

def cool_task(i):
    spin(0.01)
    return i

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    pids = client.run(os.getpid)  # each worker's pid, by its address
    print(cluster.scheduler_address, " ".join(str(p) for p in pids.values()), flush=True)
    i = 0
    while True:
        futures = [client.submit(hot_task, i * 100 + j, pure=False) for j in range(20)]
        futures += [client.submit(cool_task, i * 100 + j, pure=False) for j in range(20)]
        client.gather(futures)
        i += 1
"""


@pytest.fixture
def busy_cluster(tmp_path):
    with _cluster_script(tmp_path, "workload.py", WORKLOAD) as words:
        time.sleep(1.0)  # the first tasks have run: imports and start-up are behind
        yield words[0], [int(p) for p in words[1:]]


def test_the_profile_gives_the_hot_task_three_quarters_on_every_worker(busy_cluster, tmp_path):
    address, pids = busy_cluster
    run = run_diag(
        ["profile", "--dask", address, "--duration", "3", "-q"], cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    report = run.report
    d = report.dask
    assert d is not None and sorted(w.pid for w in d.workers) == sorted(pids)
    prefixes = {p.prefix: p for p in d.prefixes}
    hot, cool = prefixes["hot_task"], prefixes["cool_task"]
    # Equal numbers of each (batches of 20, cut by the window), three times the work: 75% of
    # the compute, by the task stream...
    assert hot.share == pytest.approx(0.75, abs=0.08) and abs(hot.count - cool.count) <= 20
    # ...and by the samples taken in the workers' processes.
    fn = {f.name: f for f in report.time.functions}
    spin_hot = fn["hot_task"].total_s / (fn["hot_task"].total_s + fn["cool_task"].total_s)
    assert spin_hot == pytest.approx(0.75, abs=0.08)
    assert all(w.tasks > 0 and w.peak_rss > 20 << 20 and not w.problem for w in d.workers)
    names = {
        p["name"]
        for p in json.loads((run.out_dir / "profile.speedscope.json").read_text())["profiles"]
    }
    assert {f"Process {pid}" for pid in pids} <= {" ".join(n.split()[:2]) for n in names}
    assert (
        report.memory.available
        and report.memory.peak_rss > sum(w.mean_rss for w in d.workers) * 0.9
    )


def _recording(pid: int) -> bool:
    """Whether a py-spy is recording ``pid``."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "record" in cmd and str(pid) in cmd and any("py-spy" in c for c in cmd[:1]):
            return True
    return False


def test_a_worker_killed_in_the_window_is_reported_and_the_rest_profiled(busy_cluster, tmp_path):
    address, pids = busy_cluster
    diag = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diagkit.cli",
            "profile",
            "--out",
            str(tmp_path / "rep"),
            "-q",
            "--dask",
            address,
            "--duration",
            "3",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Killed once its Nanny's py-spy is recording it: inside the window, not before it.
    deadline = time.monotonic() + 60
    while not _recording(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _recording(pids[0]), "diag never started recording the worker"
    time.sleep(0.5)
    os.kill(pids[0], signal.SIGKILL)
    _, err = diag.communicate(timeout=120)
    assert diag.returncode == 0, err
    from diagkit.model.report import Report

    report = Report.from_json((tmp_path / "rep" / "report.json").read_text())
    d = report.dask
    assert d is not None
    dead = next(w for w in d.workers if w.pid == pids[0])
    alive = next(w for w in d.workers if w.pid == pids[1])
    assert dead.problem.startswith(("the worker died", "not collected")), dead.problem
    assert alive.problem == "" and alive.tasks > 0
    assert any(f.kind == "dask" and str(pids[0]) in f.message for f in report.findings) or (
        dead.problem.startswith("not collected")
    )


OWN_CLUSTER = """
import time
from distributed import Client, LocalCluster

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def worker_task(i):
    spin(0.05)
    return i

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather([client.submit(worker_task, i, pure=False) for i in range(60)])
"""


def test_a_program_that_starts_its_own_cluster_shows_its_workers_functions(tmp_path):
    (tmp_path / "own.py").write_text(OWN_CLUSTER)
    run = run_diag(["profile", "-q", "--subprocesses", "own.py"], cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr
    fn = {f.name: f for f in run.report.time.functions}
    # 3 s of the tasks' spinning beside the cluster's start-up and the client's waiting in
    # all the program's processes (36% to 73% seen, by the Python and the machine's load);
    # without the workers sampled it would be nothing.
    assert fn["worker_task"].total_share > 0.2 and fn["spin"].own_share > 0.2
