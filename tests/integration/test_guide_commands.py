"""Every command in the ```bash blocks of docs/guide.md and README.md runs, against real diag.

The commands run in order in one folder holding the repository's scripts and small stand-ins for
the guide's placeholder names (script.py, mymod, mypkg.fit, a running process for 12345), so a
command added to the guide is run by default. Only the commands in SKIPPED, each with its
reason, are left out; SUBSTITUTED shortens the few that would wait for tens of seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_diag

DOCS = ("docs/guide.md", "README.md")

# A substring of the command -> why it cannot run here. Keep it short: every entry is a
# command whose truth nothing checks.
SKIPPED = {
    "pip install": "installs into the environment the tests run in",
    "python -m pytest": "the whole test suite, which is what runs this test",
    "--backend cupy": "needs a CUDA GPU",
    "diag report gpu": "reads the report of the CuPy run above",
    "diag diff cpu gpu": "reads the report of the CuPy run above",
    "--nsys /opt/nvidia": "needs Nsight Systems",
    "[OPTIONS]": "a synopsis of the command line, not a command",
}

# What the guide waits for -> what is run instead, each for a reason the guide does not care
# about: the stand-in process never ends, and a 30 s attach says nothing a 1 s one does not.
SUBSTITUTED = {"--duration 30": "--duration 1"}

# Commands the guide says may end non-zero: --fail-above (and a session compared with
# --diag-compare) exits 1 when a change exceeds it.
MAY_FAIL = {"--fail-above": {0, 1}, "--diag-compare": {0, 1}}

STANDINS = {
    "mymod.py": """
        def build_design(n):
            return [[i * j for j in range(20)] for i in range(n)]

        def kernel(rows):
            return sum(sum(r) for r in rows)
    """,
    "script.py": """
        import sys
        import numpy as np
        import estimator_core as ec
        import mymod

        print("args", sys.argv[1:])
        sim = ec.simulate_panel(n_units=300, n_periods=4, seed=1)
        fit = ec.att_gt(sim.data, "y", "period", "id", "first_treat", biters=50,
                        random_state=1, backend="numpy")
        print(mymod.kernel(mymod.build_design(2000)), np.round(fit.att, 2))
    """,
    "mypkg/__init__.py": "",
    "mypkg/fit.py": """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--seed", type=int, required=True)
        print("seed", p.parse_args().seed)
    """,
    "tests/test_fit.py": """
        def test_fit():
            assert sum(i * i for i in range(200_000)) > 0
    """,
    "my_pool.py": """
        import multiprocessing as mp

        def work(n):
            return sum(i * i for i in range(n))

        if __name__ == "__main__":
            with mp.Pool(2) as pool:
                print(sum(pool.map(work, [300_000] * 4)))
    """,
    # Matched by the guide's `--name 'demo_estimator'` and `--name 'bootstrap.py'`, and its
    # pid stands for 12345.
    "demo_estimator_bootstrap.py": """
        import time
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """,
}


def guide_commands() -> list[tuple[str, str]]:
    """(document, command) for every command line of every ```bash block, in order."""
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
            for cmd in block.replace("\\\n", " ").splitlines():
                if cmd.strip() and not cmd.lstrip().startswith("#"):
                    found.append((doc, cmd.strip()))
    return found


def test_the_extraction_finds_the_guides_commands():
    commands = [c for _, c in guide_commands()]
    assert "diag profile --out diag-reports/demo scripts/demo_estimator.py" in commands
    assert "diag diff base new --fail-above 30" in commands
    assert any(c.startswith("diag profile --deep --no-jit --lines") for c in commands)
    for part in list(SKIPPED) + list(SUBSTITUTED) + list(MAY_FAIL):
        assert any(part in c for c in commands), f"{part!r} is in no command any more"


@pytest.fixture
def workdir(tmp_path: Path):
    """The folder the commands run in, with a running stand-in process; yields (folder, pid)."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    for name, code in STANDINS.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
    nsys = ROOT / "tests/data/nsys/synthetic_kernels_memcpy_nvtx.sqlite"
    shutil.copy(nsys, tmp_path / "run.sqlite")
    for side in ("base", "new"):  # the reports `diag diff base/ new/` compares
        made = run_diag(["profile", "-q", "script.py"], cwd=tmp_path, out=tmp_path / side / "0")
        assert made.returncode == 0, made.stderr
    proc = subprocess.Popen(
        [sys.executable, "demo_estimator_bootstrap.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
        yield tmp_path, proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_every_guide_command_runs_and_exits_as_the_guide_says(workdir):
    folder, pid = workdir
    diag_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{diag_bin}{os.pathsep}{os.environ['PATH']}",
        "DEMO_ESTIMATOR_UNITS": "3000",  # the demo's full size takes seconds a run
    }
    failures = []
    for doc, cmd in guide_commands():
        if any(part in cmd for part in SKIPPED):
            continue
        run = cmd.replace("12345", str(pid))
        for before, after in SUBSTITUTED.items():
            run = run.replace(before, after)
        allowed = next((codes for part, codes in MAY_FAIL.items() if part in cmd), {0})
        proc = subprocess.run(
            ["bash", "-c", run], cwd=folder, env=env, capture_output=True, text=True, timeout=120
        )
        if proc.returncode not in allowed:
            last = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            failures.append(f"{doc}: `{cmd}` exited {proc.returncode}: {last}")
    assert not failures, "\n".join(failures)


def test_the_numpy_demo_compiles_nothing(tmp_path):
    """The demo on the NumPy backend runs no Numba: not for the estimate, not for aggte."""
    demo = ROOT / "scripts/demo_estimator.py"
    run = run_diag(
        ["profile", "-q", str(demo), "--backend", "numpy", "--units", "3000", "--biters", "100"],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    report = run.report
    assert report.jit.compiles == [] and report.jit.total_compile_s == 0
    imported = {p.name for p in report.environment.packages}
    assert "numba" not in imported and "numpy" in imported


def test_every_file_a_deep_run_writes_is_in_the_guides_files_table(script, tmp_path):
    guide = (ROOT / "docs/guide.md").read_text()
    table = guide.split("and the folder holds:", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`([^`]+)`", table))
    target = script("talks.py", "print('a line in every pass')\n")
    run = run_diag(["profile", "-q", "--deep", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    written = {p.name for p in run.out_dir.iterdir()}
    assert {"profile.pstats", "deep-tracers.log", "report.json"} <= written
    assert written <= listed, f"not in the guide's files table: {sorted(written - listed)}"
