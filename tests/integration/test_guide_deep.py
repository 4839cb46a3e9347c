"""The guide's ``--deep`` recipes, run as a new user runs them: every Python diag supports, the
README's editable install, a program that works in threads, ``--no-jit``."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diagkit.model.report import Report
from tests.conftest import ROOT, run_diag

COUNTS = """
def tiny(v):
    return v + 1

def work(n):
    s = 0
    for i in range(n):
        s += tiny(i)
    return s

for _ in range(7):
    work(20_000)
print("finished once")
"""


def _listed() -> list[str]:
    """DIAGKIT_TEST_PYTHONS: interpreters set up with diagkit's dependencies (paths, ':'-separated)."""
    return [p for p in os.environ.get("DIAGKIT_TEST_PYTHONS", "").split(os.pathsep) if p]


def _interpreter(version: str) -> str | None:
    """``pythonX.Y``: this one, one of DIAGKIT_TEST_PYTHONS, from PATH, or a pyenv install."""
    if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = shutil.which(f"python{version}")
    candidates = [*_listed(), *([found] if found else [])]
    candidates += sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/python{version}"))
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-c", probe], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return exe
    return None


@pytest.fixture(scope="session", params=["3.11", "3.12", "3.13"])
def each_python(request):
    """An interpreter of each supported version that has diagkit's dependencies.

    .ci/run makes a venv for each other version it finds and names them in
    DIAGKIT_TEST_PYTHONS; elsewhere point it at one (``python3.12 -m venv v &&
    v/bin/pip install -e .``). One named there that cannot run diag fails: CI set it up
    for this test, and a skip would hide that the version was never tried."""
    version = request.param
    exe = _interpreter(version)
    if exe is None:
        pytest.skip(f"no python{version} here (or set DIAGKIT_TEST_PYTHONS)")
    deps = "import click, rich, psutil, numpy, line_profiler, shutil; assert shutil.which('py-spy')"
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ['PATH']}"}
    missing = subprocess.run([exe, "-c", deps], capture_output=True, text=True, env=env)
    if missing.returncode != 0:
        said = (missing.stderr.strip().splitlines() or ["no output"])[-1]
        why = f"{exe} lacks diagkit's dependencies ({said})"
        if exe in _listed():
            pytest.fail(f"{why}, though DIAGKIT_TEST_PYTHONS names it")
        pytest.skip(f"{why}: `pip install -e .` with it to run this")
    return exe, env


# Slow, so that the fast pass .ci/run repeats on each venv leaves it to the main run.
@pytest.mark.slow
def test_deep_gives_call_counts_and_line_hits_on_every_python(each_python, tmp_path):
    exe, env = each_python
    target = tmp_path / "counts.py"
    target.write_text(textwrap.dedent(COUNTS))
    out = tmp_path / "report"
    cmd = [
        exe,
        "-m",
        "diagkit.cli",
        "profile",
        "--out",
        str(out),
        "--deep",
        "--lines",
        "work",
        str(target),
    ]
    env = {**env, "PYTHONPATH": str(ROOT)}  # this checkout's diagkit, whatever the venv holds
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = Report.from_json((out / "report.json").read_text())
    deep = report.deep
    assert deep is not None
    assert all(p.complete for p in deep.passes), proc.stderr
    calls = {c.function: c.calls for c in deep.calls if c.file == str(target)}
    assert calls["work"] == 7 and calls["tiny"] == 140_000
    (work,) = [p for p in deep.lines if p.function == "work"]
    hits = {ln.source: ln.hits for ln in work.lines}
    assert work.status == "traced"
    assert hits["s += tiny(i)"] == 140_000
    assert "monitoring" not in (out / "deep-tracers.log").read_text()
    # A pass that failed says so; the sampled pass's failed reads are py-spy's, not a pass's.
    said = [ln for ln in proc.stderr.splitlines() if "failed" in ln and "reads failed" not in ln]
    assert not said, proc.stderr


def test_a_pass_that_writes_nothing_is_said_to_have_failed(tmp_path, script):
    # os._exit skips the interpreter's exit work, where the tracers write their results.
    target = script("quits.py", COUNTS + "import os\nos._exit(0)\n")
    run = run_diag(["profile", "--deep", "--lines", "work", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr  # the program's own status
    deep = run.report.deep
    assert not deep.passes[0].complete
    why = "the tracers pass gave no results: the program ended before the results were written"
    assert any(n.startswith(why) for n in deep.notes), deep.notes
    assert "tracers: failed, no results: cProfile, line_profiler" in run.stderr
    assert f"diag: {why}" in run.stderr


def _is_behind_a_finder(module: str, cwd: Path) -> bool:
    """True when ``module`` imports here only through a finder of its own (pip install -e)."""
    probe = (
        "import importlib.machinery as m, importlib.util as u, sys; "
        f"print(u.find_spec({module!r}) is not None "
        f"and m.PathFinder.find_spec({module!r}, sys.path) is None)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, env=env
    )
    return out.stdout.strip() == "True"


def test_lines_by_module_name_resolves_under_an_editable_install(tmp_path, script):
    if not _is_behind_a_finder("estimator_core", tmp_path):
        pytest.skip("estimator_core is not installed with `pip install -e .` here")
    target = script("boot.py", "import estimator_core.bootstrap\nprint('imported')\n")
    spec = "estimator_core.bootstrap:multiplier_bootstrap"
    run = run_diag(["profile", "--deep", "--lines", spec, str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (prof,) = [p for p in run.report.deep.lines if p.reason == "--lines"]
    assert prof.function == "multiplier_bootstrap"
    assert prof.file == str((ROOT / "estimator_core" / "bootstrap.py").resolve())
    assert prof.status == "not called"


def test_a_module_name_that_does_not_resolve_is_an_error_naming_the_closest(tmp_path, script):
    if not _is_behind_a_finder("estimator_core", tmp_path):
        pytest.skip("estimator_core is not installed with `pip install -e .` here")
    target = script("boot.py", "print('ran')\n")
    spec = "estimator_core.bootstrp:multiplier_bootstrap"
    run = run_diag(["profile", "--deep", "--lines", spec, str(target)], cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"diag: error: --lines {spec}: no module named 'estimator_core.bootstrp'; "
        "closest: estimator_core.bootstrap"
    ]
    assert "ran" not in run.stdout and not run.out_dir.exists()


THREADS = """
import os
from concurrent.futures import ThreadPoolExecutor

def cell(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s

with ThreadPoolExecutor(max_workers=3) as pool:
    print(sum(pool.map(cell, [400_000] * 6)))
print("jit off:", os.environ.get("NUMBA_DISABLE_JIT"))
"""


def test_tracers_follow_the_program_into_its_threads_and_no_jit_stays_in_the_tracers_pass(
    tmp_path, script
):
    target = script("cells.py", THREADS)
    run = run_diag(["profile", "--deep", "--no-jit", "--lines", "cell", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    deep = run.report.deep
    calls = {c.function: c for c in deep.calls if c.file == str(target)}
    assert calls["cell"].calls == 6
    (cell,) = [p for p in deep.lines if p.function == "cell"]
    hits = {ln.source: ln.hits for ln in cell.lines}
    assert hits["s += i % 7"] == 6 * 400_000
    assert hits["for i in range(n):"] == 6 * 400_001
    assert not deep.diverged, deep.divergence
    assert not any("main thread" in n for n in deep.notes)
    # --no-jit is the tracers pass's: the memory pass runs as the sampled one did.
    assert "jit off: 1" in (run.out_dir / "deep-tracers.log").read_text()
    assert "jit off: None" in (run.out_dir / "deep-memory.log").read_text()
    assert [p.jit_disabled for p in deep.passes] == [True, False]
    assert "memory pass: tracemalloc (2 frames)\n" in run.stderr
    assert "(the sampled pass took " in run.stderr


LATE = """
import hashlib, os, sys

BLOCK = bytes(10_000_000)

# Hashing: enough samples for the check in a short run, and few lines and blocks to trace.
def steady():
    h = hashlib.sha256()
    for _ in range(200):  # ~1 s: twice the samples the check needs
        h.update(BLOCK)
    return h.digest()[0]

def late_path():
    h = hashlib.sha256()
    for _ in range(120):
        h.update(BLOCK)
    return h.digest()[0]

marker = sys.argv[1]
first = not os.path.exists(marker)
open(marker, "a").close()
print(steady() + (0 if first else late_path()))
"""


def test_work_missing_from_the_samples_says_what_was_compared(tmp_path, script):
    # Only the runs after the first take the late path, as an unseeded estimator might.
    target = script("late.py", LATE)
    run = run_diag(["profile", "--deep", str(target), str(tmp_path / "ran")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    deep = run.report.deep
    samples = run.report.time.samples
    (line,) = [d for d in deep.divergence if "late_path" in d]
    assert line.startswith(
        f"in none of the sampled pass's {samples:,} samples, yet cProfile timed them in the "
        "tracers pass: late_path ("
    )
    assert line.endswith("% of the tracers pass's time)")
