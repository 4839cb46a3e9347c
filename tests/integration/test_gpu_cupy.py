"""The in-process collector on a real GPU with CuPy (and CUPTI where cupti-python is installed)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from diagkit.gpu.target import inprocess
from diagkit.gpu.target.inprocess import read_result

PROGRAM = """\
import numpy as np
import cupy
import diagkit
from cupyx.profiler import time_range

host = np.ones((64, 1024), dtype=np.float32)  # 4 KiB rows
x = cupy.zeros(1024, dtype=cupy.float32)      # the program's first allocation
with diagkit.range("fit"):
    for i in range(30):
        with diagkit.range("iter"):
            x += cupy.asarray(host[i])
    with time_range("reduce"):
        total = float(x.sum())
cupy.cuda.Device().synchronize()
assert total == 30 * 1024, total
"""


@cache
def _cupy_gpu() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    code = "import cupy; print(cupy.cuda.runtime.getDeviceCount())"
    try:
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and res.stdout.strip() not in ("", "0")


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _cupy_gpu(), reason="needs CuPy and a CUDA GPU"),
]


def _run(tmp_path: Path, mode: str):
    (tmp_path / "prog.py").write_text(PROGRAM)
    runner = (
        "import runpy, sys\n"
        "from diagkit.gpu.target import inprocess\n"
        "inprocess.start_from_env()\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    (tmp_path / "runner.py").write_text(runner)
    out = tmp_path / "gpu.json"
    env = {**os.environ, inprocess.ENV_OUT: str(out), inprocess.ENV_MODE: mode}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "prog.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return read_result(out)


def test_cupy_level_collector_on_a_gpu(tmp_path):
    sec = _run(tmp_path, "cupy")
    assert sec.source == "cupy" and sec.gpu_found is True and sec.devices
    c = {x.operation: x for x in sec.copies}
    assert (c["Host-to-Device"].time.count, c["Host-to-Device"].bytes.total) == (30, 30 * 4096)
    assert c["Device-to-Host"].time.count == 1
    r = {x.name: x for x in sec.ranges}
    assert r["diagkit:iter"].time.count == 30 and r["diagkit:iter"].copy_count == 30
    assert r["diagkit:iter"].gpu_span.count == 30 and r["diagkit:iter"].gpu_span.total_s > 0
    assert "reduce" in r
    assert [w.range for w in sec.warnings if w.kind == "small-transfers"] == ["diagkit:iter"]
    assert sec.memory is not None and sec.memory.pool_used_peak_bytes >= 4096


@pytest.mark.skipif(importlib.util.find_spec("cupti") is None, reason="needs cupti-python")
def test_cupti_collector_on_a_gpu(tmp_path):
    sec = _run(tmp_path, "cupti")
    assert sec.source == "cupti", sec.notes
    assert sec.kernels and sec.idle is not None
    htod = next(c for c in sec.copies if c.operation == "Host-to-Device")
    assert htod.time.count >= 30 and htod.bytes.total >= 30 * 4096 and htod.measured == "gpu"
    r = {x.name: x for x in sec.ranges}
    # Launches are tied to the ranges of the thread that made them (CUPTI thread ids mapped).
    assert r["diagkit:iter"].kernel_count >= 30 and r["diagkit:iter"].copy_count >= 30
    assert r["reduce"].kernel_count >= 1
