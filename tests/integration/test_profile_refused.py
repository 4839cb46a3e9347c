"""py-spy refused: the run goes on and the report says why and how to fix it.

Made real, not mocked: diag runs without CAP_SYS_PTRACE, and the target marks
itself non-dumpable from interpreter start (a sitecustomize), which is what
containers and hardened hosts do to a process another one may not read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

setpriv = shutil.which("setpriv")


@pytest.mark.skipif(setpriv is None, reason="setpriv (util-linux) is not installed")
def test_profile_goes_on_without_samples_and_explains(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import ctypes\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n"
    )
    (tmp_path / "t.py").write_text("import numpy as np\nprint(int(np.ones(1000).sum()))\n")
    out = tmp_path / "rep"
    cmd = [
        setpriv,
        "--bounding-set=-sys_ptrace",
        "--inh-caps=-sys_ptrace",
        sys.executable,
        "-m",
        "diagkit.cli",
        "profile",
        "--out",
        str(out),
        "t.py",
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(site), "PATH": _path()},
    )
    if "Operation not permitted" in proc.stderr and "setpriv" in proc.stderr:
        pytest.skip("this machine does not let setpriv drop capabilities")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1000\n"
    from diagkit.model.report import Report

    rep = Report.from_json((out / "report.json").read_text())
    assert not rep.time.available
    assert "refused" in rep.time.unavailable_reason and "SYS_PTRACE" in rep.time.unavailable_reason
    assert rep.memory.peak_rss > 0 and rep.outcome.exit_code == 0  # the rest is still there
    assert "SYS_PTRACE" in proc.stderr


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")
