"""Findings and folds on real runs: a compiling Numba kernel, an import-heavy script, a NaN,
and a plain loop that must raise no compile or import alarm."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import run_diag

COMPILE = """
import time
start = time.perf_counter()
import json, sys
import numpy as np
from numba import njit

@njit
def kernel(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += np.sin(a[i]) * np.cos(a[i])
    return s

def first_call(a):
    return kernel(a)

def steady(a, seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        kernel(a)

a = np.random.rand(10_000)
t0 = time.perf_counter(); first_call(a); t1 = time.perf_counter()
steady(a, 0.4)
json.dump({"compile": (t1 - t0) / (time.perf_counter() - start)}, open(sys.argv[1], "w"))
"""


def test_a_numba_compile_is_one_row_named_for_its_function_and_a_finding(tmp_path, script):
    target = script("compiling.py", COMPILE)
    run = run_diag(["profile", "-q", str(target), str(tmp_path / "t.json")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "t.json").read_text())["compile"]
    t = run.report.time
    rows = [f for f in t.functions if f.name.startswith("[numba compile] __main__:kernel (")]
    assert len(rows) == 1, [f.name for f in t.functions[:8]]
    assert "float64" in rows[0].name  # the signature it compiled for
    assert rows[0].total_share == pytest.approx(truth, abs=0.06)
    compiler = [f for f in t.functions if re.search(r"/(numba|llvmlite)/", f.file)]
    assert max((f.own_share for f in compiler), default=0.0) < 0.05, compiler[:3]
    (line,) = [ln for ln in t.lines if ln.function == "first_call"]  # the call that compiled
    assert line.own_share == pytest.approx(truth, abs=0.06)
    assert t.flame is not None
    assert any(f.name == rows[0].name for f in t.flame.functions)
    (found,) = [f for f in run.report.findings if f.kind == "numba-compile"]
    assert found.where == "__main__:kernel" and "cache=True" in found.advice
    # The raw stacks stay in the speedscope file for other tools.
    raw = (run.out_dir / "profile.speedscope.json").read_text()
    assert "_compile_for_args" in raw and "[numba compile]" not in raw


PARALLEL = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from numba import njit, prange

@njit(parallel=True, cache=True)
def pkernel(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += np.sqrt(abs(a[i])) * 2.0
    return s

def first_calls(a, b):
    pkernel(a)
    pkernel(b)

a, b = np.random.rand(100_000), np.arange(100_000)
t0 = time.perf_counter(); first_calls(a, b); t1 = time.perf_counter()
end = time.perf_counter() + 0.3
while time.perf_counter() < end:
    pkernel(a)
json.dump({"first_calls": (t1 - t0) / (time.perf_counter() - start)}, open(sys.argv[1], "w"))
"""


def test_a_parallel_kernel_for_two_signatures_then_from_its_cache(tmp_path, script):
    """parallel=True compiles through the parfors pipeline; the second run loads the cache."""
    target = script("parallel.py", PARALLEL)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    run = run_diag(["profile", "-q", str(target), str(tmp_path / "t.json")], cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "t.json").read_text())["first_calls"]
    t = run.report.time
    rows = [f for f in t.functions if f.name.startswith("[numba compile] __main__:pkernel (")]
    assert sorted(r.name.split(" (")[1] for r in rows) == [
        "array(float64, 1d, C))",
        "array(int64, 1d, C))",
    ]
    assert sum(r.total_share for r in rows) == pytest.approx(truth, abs=0.08)
    compiler = [f for f in t.functions if re.search(r"/(numba|llvmlite)/", f.file)]
    assert max((f.own_share for f in compiler), default=0.0) < 0.05, compiler[:3]
    (fn,) = [f for f in run.report.jit.functions if f.function == "__main__:pkernel"]
    assert (fn.compiles, fn.cache_hits) == (2, 0)
    (found,) = [f for f in run.report.findings if f.kind == "numba-compile"]
    assert "2 times for 2 signatures" in found.advice
    # Again, from the cache it wrote: loads, no compile, no finding about compiling.
    again = run_diag(
        ["profile", "-q", str(target), str(tmp_path / "t2.json")],
        cwd=tmp_path,
        env=env,
        out=tmp_path / "r2",
    )
    assert again.returncode == 0, again.stderr
    (fn,) = [f for f in again.report.jit.functions if f.function == "__main__:pkernel"]
    assert fn.cache_hits == 2 and fn.compile_s < 0.5 * sum(r.total_s for r in rows)
    # What it still costs is named as a load, not as compiling, where it is worth naming.
    found = [f for f in again.report.findings if f.kind == "numba-compile"]
    t2, wall = again.report.time, again.report.outcome.wall_s
    row = next((f for f in t2.functions if f.name == "[numba compile or cache load]"), None)
    if row is not None and min(row.total_s, wall) >= 0.15 * wall:
        (load,) = found
        assert load.where == row.name and "(2 cache hits)" in load.message
        assert load.evidence[0].value == pytest.approx(row.total_s, abs=1e-3)
    else:
        assert found == []


IMPORTS = """
import time
import heavy
def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
spin(0.1)
"""
# A package whose import takes a known ~0.3 s of work: two submodules that compute at their top.
HEAVY = "import heavy.fit, heavy.boot\n"
SUB = """
import time
end = time.perf_counter() + {seconds}
while time.perf_counter() < end:
    pass
"""


def _importtime(module: str, cwd) -> float:
    """Seconds ``python -X importtime`` gives the top-level import of ``module``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    ).stderr
    cumulative = [
        int(m.group(1))
        for m in re.finditer(rf"^import time:\s+\d+ \|\s+(\d+) \| {module}$", out, re.M)
    ]
    return cumulative[-1] / 1e6


def test_imports_are_grouped_by_module_and_agree_with_python_importtime(tmp_path, script):
    pkg = tmp_path / "heavy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(HEAVY)
    (pkg / "fit.py").write_text(SUB.format(seconds=0.2))
    (pkg / "boot.py").write_text(SUB.format(seconds=0.1))
    target = script("importing.py", IMPORTS)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    expected = _importtime("heavy", tmp_path)
    imp = run.report.time.imports
    assert imp is not None and imp.modules[0].name == "heavy", imp
    assert imp.modules[0].seconds == pytest.approx(expected, rel=0.3)
    slowest = {m.name: m.seconds for m in imp.modules[0].slowest}
    assert slowest["heavy.fit"] == pytest.approx(0.2, rel=0.3)
    assert slowest["heavy.boot"] == pytest.approx(0.1, rel=0.3)
    funcs = {f.name: f for f in run.report.time.functions}
    assert funcs["[import] heavy"].total_share == pytest.approx(imp.modules[0].share, abs=0.01)
    machinery = [f for f in run.report.time.functions if f.file.startswith("<frozen importlib")]
    assert max((f.own_share for f in machinery), default=0.0) < 0.05
    (found,) = [f for f in run.report.findings if f.kind == "imports"]
    assert found.where == "heavy"


NAN = """
import time
import numpy as np
for _ in range(50):
    np.log(np.array([-1.0, 2.0]))
end = time.perf_counter() + 0.3
while time.perf_counter() < end:
    pass
"""

PLAIN = """
import time
def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
spin(0.6)
"""


def test_a_nan_leads_the_summary_with_where_it_came_from(tmp_path, script):
    target = script("nan.py", NAN)
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    found = run.report.findings[0]
    assert found.kind == "invalid-values" and found.where == f"{target}:5"
    assert found.message.startswith("50 NaN/inf warnings: the first at")
    head = run.stderr.split("Time", 1)[0]  # diag's summary: what to fix first, before the time
    assert "Fix first" in head and "NaN/inf warnings" in head and "np.seterr" in head


def test_a_plain_loop_raises_no_compile_or_import_alarm(tmp_path, script):
    target = script("plain.py", PLAIN)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    kinds = [f.kind for f in run.report.findings]
    assert "numba-compile" not in kinds and "imports" not in kinds
    assert kinds == ["hot-function"]  # spin holds the run: that is right, and all
    assert run.report.findings[0].where in (f"{target}:5", f"{target}:6")


WAITS = """
import time
def fetch():
    time.sleep(0.7)
def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
fetch()
spin(0.3)
"""


def test_the_main_threads_waits_are_timed_and_placed_though_the_tables_leave_them_out(
    tmp_path, script
):
    target = script("waits.py", WAITS)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    t = run.report.time
    assert t.waiting_s == pytest.approx(0.7, abs=0.1)
    assert (t.waits[0].function, t.waits[0].line) == ("fetch", 4)
    assert "fetch" not in {f.name for f in t.functions}  # waits stay out of the tables
    (found,) = [f for f in run.report.findings if f.kind == "waiting"]
    assert found.where == f"{target}:4" and "time.sleep(0.7)" in found.message


OVERSUBSCRIBED = """
import os, sys, time
from multiprocessing import get_context

def work(seconds):
    import numpy as np
    a = np.random.rand(400, 400)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a @ a
    return 0

if __name__ == "__main__":
    cores = len(os.sched_getaffinity(0))
    with get_context("spawn").Pool(cores) as pool:
        pool.map(work, [1.5] * cores)
"""


def test_processes_times_blas_threads_over_the_cores_are_found(tmp_path, script):
    """A process per core, each with a BLAS thread per core: cores² busy threads on the cores."""
    import os

    cores = len(os.sched_getaffinity(0))
    target = script("over.py", OVERSUBSCRIBED)
    env = {k: str(cores) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    c = run.report.cpu
    assert c.cores == cores and c.peak_processes >= cores + 1 and c.busy_processes >= cores
    assert c.peak_threads >= cores * cores and c.thread_settings["OPENBLAS_NUM_THREADS"] == str(
        cores
    )
    # Each of the cores² threads computes 1.5 s; the cores give each a 1/cores share of one.
    assert c.run_wait_s > 0.5 * c.cpu_s, (c.run_wait_s, c.cpu_s)
    (found,) = [f for f in run.report.findings if f.kind == "oversubscribed"]
    assert f"OPENBLAS_NUM_THREADS={max(1, cores // c.busy_processes)}" in found.advice
    # The same work with one BLAS thread per process: as many busy threads as cores.
    single = {k: "1" for k in env}
    calm = run_diag(["profile", "-q", str(target)], cwd=tmp_path, env=single, out=tmp_path / "r2")
    assert calm.returncode == 0, calm.stderr
    assert calm.report.cpu.run_wait_s < 0.2 * calm.report.cpu.cpu_s
    assert "oversubscribed" not in [f.kind for f in calm.report.findings]


THREADED = """
import os, sys, threading, time

def python_loop(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += sum(i * i for i in range(200))

def numpy_loop(seconds):
    import numpy as np
    a = np.random.rand(300, 300)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a @ a

if __name__ == "__main__":
    work = numpy_loop if sys.argv[1] == "numpy" else python_loop
    import numpy  # imported by both, so only the loops differ
    threads = [threading.Thread(target=work, args=(1.5,), name=f"worker-{i}") for i in range(int(sys.argv[2]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""


def test_threads_taking_turns_at_the_gil_are_found_and_numpy_threads_are_not(tmp_path, script):
    import os

    cores = len(os.sched_getaffinity(0))
    target = script("threads.py", THREADED)
    run = run_diag(["profile", "-q", str(target), "python", "4"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (found,) = [f for f in run.report.findings if f.kind == "gil-bound"]
    assert found.message.startswith("4 threads (worker-"), found.message
    python_s, cpu_s = found.evidence[1].value, found.evidence[2].value
    assert python_s > 4.0 and cpu_s < 0.5 * python_s  # 4 × 1.5 s in Python, ~1.5 s on a core
    # As many NumPy threads as cores, one BLAS thread each: they compute side by side.
    env = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    calm = run_diag(
        ["profile", "-q", str(target), "numpy", str(cores)],
        cwd=tmp_path,
        env=env,
        out=tmp_path / "r2",
    )
    assert calm.returncode == 0, calm.stderr
    assert "gil-bound" not in [f.kind for f in calm.report.findings], calm.report.findings
    # Two BLAS threads each: the threads' work runs on helpers, and queues, but not for the GIL.
    env = {k: "2" for k in env}
    helped = run_diag(
        ["profile", "-q", str(target), "numpy", str(cores)],
        cwd=tmp_path,
        env=env,
        out=tmp_path / "r3",
    )
    assert helped.returncode == 0, helped.stderr
    assert "gil-bound" not in [f.kind for f in helped.report.findings], helped.report.findings
