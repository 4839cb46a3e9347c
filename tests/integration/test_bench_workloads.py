"""scripts/bench_workloads.py's targets are what the benchmark says they are, and time themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

WORK = ROOT / "scripts" / "bench_workloads.py"


def _truth(tmp_path, name: str, scale: int, runner: list[str] | None = None) -> dict:
    out = tmp_path / f"{name}.json"
    args = [str(WORK), name, str(scale), str(out)]
    # A runner's frames above the script's (as under runpy or a profiler's bootstrap).
    cmd = [*runner, repr(args)] if runner else [sys.executable, *args]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, timeout=120, env=env)
    return json.loads(out.read_text())


RUNPY = [
    sys.executable,
    "-c",
    "import runpy, sys, ast; sys.argv = ast.literal_eval(sys.argv[1]);"
    " runpy.run_path(sys.argv[0], run_name='__main__')",
]


def test_the_deep_workloads_hot_function_runs_120_frames_deep(tmp_path):
    for runner in (None, RUNPY):
        got = _truth(tmp_path, "deep", 30, runner)
        assert got["hot_depth"] == 120
        assert got["hot_name"] == "deep_loop" and got["basis"] == "wall"
        # 120 k iterations deep against 80 k shallow, the same loop, beside the imports
        assert 0.35 < got["hot_share"] < 0.6
        assert got["phases"]["hot"] + got["phases"]["rest"] == pytest.approx(got["total"])


def test_the_threaded_workload_runs_32_threads_and_measures_them_all(tmp_path):
    got = _truth(tmp_path, "threads", 3)
    assert got["threads"] == 32  # every one timed its own multiplications
    assert got["hot_name"] == "multiply_blocks"
    phases = got["phases"]
    active = phases["cpu"] + phases["queued"]
    assert got["hot_share"] == phases["hot"] / active
    assert phases["hot"] == phases["hot_cpu"] + phases["hot_queued"] <= active
    assert 0 < got["cpu_share"] < 1 and 0 < got["hot_share"] < 1


def test_single_thread_truth_is_the_hot_functions_share_of_the_wall(tmp_path):
    got = _truth(tmp_path, "calls", 1)
    assert got["basis"] == "wall" and got["hot_name"] == "call_heavy"
    assert got["hot_share"] == got["hot"] / got["total"]
