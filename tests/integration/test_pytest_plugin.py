"""The pytest plugin on real pytest sessions in subprocesses: ``--diag`` samples the session
from outside with each test a range, the marker fails a test past its limits with and
without it, ``--diag-compare`` fails a session whose test got slower, and pytest-xdist's
workers each sample themselves."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from diagkit.model.report import Report

TESTS = """
import os, time
import numpy as np

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def fit(seconds):
    spin(seconds)

def test_slow():
    fit(float(os.environ.get("SLOW", "0.6")))

def test_memory():
    a = np.ones(40_000_000)  # 305 MiB, touched
    spin(0.05)
    del a

def test_fast():
    spin(0.2)
"""


def _pytest(
    tmp_path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def _write(tmp_path, name: str, code: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(code))


def test_a_session_is_sampled_with_each_test_a_range(tmp_path):
    _write(tmp_path, "test_est.py", TESTS)
    done = _pytest(tmp_path, "--diag", "--diag-out", "rep")
    assert done.returncode == 0, done.stdout + done.stderr
    report = Report.from_json((tmp_path / "rep" / "report.json").read_text())
    stages = {s.name: s.total_s for s in report.ranges.stats}
    assert stages["test_est.py::test_slow"] == pytest.approx(0.6, abs=0.08)
    assert stages["test_est.py::test_fast"] == pytest.approx(0.2, abs=0.08)
    assert "from inside" in report.time.source
    spin = next(f for f in report.time.functions if f.name == "spin")
    assert spin.own_share > 0.6  # 0.85 s of ~1.0 s of the tests' work
    rows = [ln for ln in done.stdout.splitlines() if "test_est.py::" in ln]
    assert len(rows) == 3 and rows[0].split()[4] == "test_est.py::test_slow"  # slowest first
    slow = next(r for r in rows if "::test_slow" in r)
    assert "spin (test_est.py:" in slow
    memory = next(r for r in rows if "::test_memory" in r)
    peak = float(memory.split()[2].replace(",", ""))  # "352.8 MiB"
    assert memory.split()[3] == "MiB" and peak > 305
    fast_peak = float(next(r for r in rows if "::test_fast" in r).split()[2].replace(",", ""))
    assert fast_peak < peak - 250  # the array was freed: the next test's peak is its own


LIMITS = """
import time
import numpy as np
import pytest
from numba import njit

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

@pytest.mark.diag(max_seconds=0.1)
def test_too_slow():
    spin(0.3)

@pytest.mark.diag(max_seconds=5)
def test_in_time():
    spin(0.05)

@pytest.mark.diag(max_peak_rss="100 MB")
def test_too_big():
    a = np.ones(40_000_000)
    del a

@njit
def kernel(x):
    return (x * 2.0).sum()

@pytest.mark.diag(max_compile_seconds=0.01)
def test_compiles_too_long():
    kernel(np.ones(10))

@pytest.mark.diag(max_sconds=1)
def test_misspelt():
    pass
"""


@pytest.mark.parametrize("diag", [False, True], ids=["alone", "with --diag"])
def test_the_marker_fails_a_test_past_its_limits(tmp_path, diag):
    _write(tmp_path, "test_limits.py", LIMITS)
    done = _pytest(tmp_path, "-rf", *(["--diag", "--diag-out", "rep"] if diag else []))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "4 failed, 1 passed" in out
    assert "diag: max_seconds=0.1: the test took 0.3" in out
    assert "hottest function: spin (test_limits.py:" in out
    assert "max_peak_rss='100 MB' (95.4 MiB): its process's RSS peaked at" in out
    assert "max_compile_seconds=0.01: Numba compiled for" in out
    assert "@pytest.mark.diag has no limit 'max_sconds'" in out
    assert (tmp_path / "rep").exists() == diag
    assert not (tmp_path / "diag-reports").exists()


def test_a_test_that_got_slower_fails_the_compared_session(tmp_path):
    _write(tmp_path, "test_est.py", TESTS)
    base = _pytest(tmp_path, "--diag", "--diag-out", "base", "-k", "slow or fast")
    assert base.returncode == 0, base.stdout + base.stderr
    same = _pytest(
        tmp_path, "--diag", "--diag-out", "same", "--diag-compare", "base", "-k", "slow or fast"
    )
    assert same.returncode == 0, same.stdout
    slower = _pytest(
        tmp_path,
        "--diag",
        "--diag-out",
        "slower",
        "--diag-compare",
        "base",
        "-k",
        "slow or fast",
        env={"SLOW": "1.5"},
    )
    assert slower.returncode == 1, slower.stdout
    assert "slower than base (the session fails):" in slower.stdout
    (line,) = [ln for ln in slower.stdout.splitlines() if ln.startswith("  test_est.py::")]
    assert line.startswith("  test_est.py::test_slow:")


def test_options_a_user_can_get_wrong_are_one_line_usage_errors(tmp_path):
    _write(tmp_path, "test_est.py", TESTS)
    alone = _pytest(tmp_path, "--diag-out", "rep")
    assert alone.returncode == 4 and "ERROR: --diag-out goes with --diag" in alone.stderr
    missing = _pytest(tmp_path, "--diag", "--diag-compare", "nowhere")
    assert missing.returncode == 4
    assert "ERROR: --diag-compare: nowhere: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr + missing.stdout


def test_without_diag_the_plugin_writes_nothing_and_x_and_k_keep_working(tmp_path):
    _write(tmp_path, "test_est.py", TESTS + "\ndef test_fails():\n    assert False\n")
    plain = _pytest(tmp_path, "-k", "fast")
    assert plain.returncode == 0 and "= diag =" not in plain.stdout
    assert not (tmp_path / "diag-reports").exists()
    stopped = _pytest(tmp_path, "-x", "--diag", "--diag-out", "rep", "-k", "fails or fast")
    assert stopped.returncode == 1
    report = Report.from_json((tmp_path / "rep" / "report.json").read_text())
    assert {s.name for s in report.ranges.stats} <= {
        "test_est.py::test_fast",
        "test_est.py::test_fails",
    }
    assert "test_est.py::test_fails" in {s.name for s in report.ranges.stats}


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist")
def test_each_xdist_worker_samples_itself(tmp_path):
    _write(tmp_path, "test_est.py", TESTS)
    done = _pytest(tmp_path, "-n", "2", "--diag", "--diag-out", "rep")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "each sampled itself into rep/<worker id>" in done.stdout
    names: set[str] = set()
    for worker in ("gw0", "gw1"):
        report = Report.from_json((tmp_path / "rep" / worker / "report.json").read_text())
        names |= {s.name for s in report.ranges.stats}
    assert names == {
        "test_est.py::test_slow",
        "test_est.py::test_memory",
        "test_est.py::test_fast",
    }
