"""nsys run for real: a stand-in nsys script exports, fails and names its version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diagkit.commands.gpu_trace import gpu_trace
from diagkit.errors import DiagError
from diagkit.gpu.nsys import run as nsys_run
from diagkit.model.report import Report
from tests.unit.nsys_standin import fake_nsys

DATA = Path(__file__).resolve().parents[1] / "data" / "nsys"
SYNTH = DATA / "synthetic_kernels_memcpy_nvtx.sqlite"


def _diag(args: list[str]) -> int:
    return gpu_trace.main(args=args, prog_name="diag gpu-trace", standalone_mode=False)


def test_nsys_rep_is_exported_with_the_given_nsys(tmp_path):
    # "nsys export ... -o OUT REP": the stand-in copies the fixture to OUT.
    nsys = fake_nsys(tmp_path, f'eval out=\\${{$(($# - 1))}}\ncp "{SYNTH}" "$out"\n')
    rep = tmp_path / "run.nsys-rep"
    rep.write_bytes(b"binary")
    out = tmp_path / "o"
    assert _diag(["--import", str(rep), "--nsys", nsys, "--out", str(out), "-q"]) == 0
    report = Report.from_json((out / "report.json").read_text())
    assert report.files["gpu trace"] == "run.sqlite" and (out / "run.sqlite").exists()
    assert len(report.gpu.kernels) == 2


def test_failing_nsys_export_is_one_line(tmp_path):
    nsys = fake_nsys(tmp_path, 'echo "Processing..."\necho "Error: file is damaged" >&2\nexit 3\n')
    with pytest.raises(DiagError) as err:
        nsys_run.export(nsys, tmp_path / "r.nsys-rep", tmp_path / "r.sqlite")
    assert err.value.message.endswith("failed: Error: file is damaged (exit code 3)")


@pytest.mark.skipif(os.name != "posix", reason="shell stand-in for nsys")
def test_nsys_version_parsing(tmp_path):
    nsys = fake_nsys(tmp_path, 'echo "NVIDIA Nsight Systems version 2023.4.4.54-234433681190v0"\n')
    assert nsys_run.version(nsys) == "2023.4.4.54"
