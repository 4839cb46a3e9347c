"""``diag gpu-trace`` and ``diag profile --gpu`` running a real program on a machine without a GPU."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_diag

PROGRAM = """
import sys, time
import nvtx, diagkit
with diagkit.range("prepare"):
    time.sleep(0.05)
with nvtx.annotate("bootstrap"):
    for _ in range(3):
        with diagkit.range("draw"):
            time.sleep(0.01)
sys.exit(3)
"""

no_gpu = pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="this test is for machines without a GPU"
)


@no_gpu
@pytest.mark.parametrize("command", [["gpu-trace", "--no-nsys"], ["profile", "--gpu"]])
def test_without_a_gpu_the_program_runs_and_its_ranges_are_host_timed(tmp_path, script, command):
    target = script("g.py", PROGRAM)
    out = tmp_path / "rep"
    run = run_diag([*command, "--out", str(out), str(target)], cwd=tmp_path, out=out)
    assert run.returncode == 3, run.stderr
    gpu = run.report.gpu
    assert gpu is not None and not gpu.gpu_found
    assert "No CUDA GPU was found" in gpu.gpu_status and "No CUDA GPU was found" in run.stderr
    ranges = {r.name: r for r in gpu.ranges}
    assert ranges["diagkit:draw"].time.count == 3
    assert ranges["bootstrap"].time.count == 1
    assert ranges["bootstrap"].time.total_s >= 0.03
    assert ranges["diagkit:prepare"].time.total_s >= 0.05
    assert run.report.outcome.exit_code == 3
    # The collectors' exit work (writing results) is never counted as the program's time.
    own = [f.name for f in run.report.time.functions if "diagkit" in f.file]
    assert not any(n.split(".")[-1] in ("finish", "write", "collect") for n in own), own
