"""``diag diff`` as the guide uses it: a gate that a crashed run cannot pass, and the same code
in two checkouts or environments compared function by function."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_diag

# The same work whatever the ending, so that only the ending differs between the runs.
WORK = """
import os, signal, sys, time

def work(n):
    t = 0
    for i in range(n):
        t += i % 7
    return t

work(4_000_000)
how = sys.argv[1] if len(sys.argv) > 1 else ""
if how == "raise":
    raise RuntimeError("lost the connection")
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if how == "hang":
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def endings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("endings")
    (folder / "work.py").write_text(WORK)
    for name, extra in (("ok", []), ("raise", ["raise"]), ("kill", ["kill"])):
        r = run_diag(["profile", "-q", "work.py", *extra], cwd=folder, out=folder / name)
        assert (folder / name / "report.json").is_file(), r.stderr
    r = run_diag(
        ["profile", "-q", "--timeout", "1", "work.py", "hang"], cwd=folder, out=folder / "hang"
    )
    assert r.returncode == 124, r.stderr
    return folder


@pytest.mark.parametrize(
    ("base", "new", "says"),
    [
        ("ok", "raise", "new run 'work.py raise' did not finish (uncaught RuntimeError)"),
        ("ok", "kill", "new run 'work.py kill' did not finish (killed by SIGKILL"),
        ("hang", "ok", "base run 'work.py hang' did not finish (stopped by diag after --timeout"),
    ],
)
def test_a_run_that_did_not_finish_fails_the_gate_and_says_which(endings, base, new, says):
    gate = run_diag(["diff", base, new, "--fail-above", "25"], cwd=endings)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert gate.stderr.startswith("diag: --fail-above 25% fails: the ") and says in gate.stderr
    assert gate.stderr.count("\n") == 1
    assert "not comparable:" in gate.stdout
    listed = run_diag(["diff", base, new, "--json"], cwd=endings)
    assert listed.returncode == 0  # no --fail-above: a report, never a gate
    (unfinished,) = json.loads(listed.stdout)["unfinished"]
    assert says in unfinished


def test_two_finished_runs_of_the_same_work_pass_the_gate(endings):
    r = run_diag(["diff", "ok", "ok", "--fail-above", "25", "--json"], cwd=endings)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["unfinished"] == []


HELPER = """
def work(n):
    t = 0
    for i in range(n):
        t += i % 7
    return t
"""
BOOT = """
import helper

def main():
    return helper.work(4_000_000) + sum(i % 3 for i in range(1_500_000))

main()
"""


def _checkout(root: Path, name: str) -> Path:
    """A checkout with its own virtual environment inside it, as ``python -m venv .venv`` makes."""
    site = root / name / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "helper.py").write_text(textwrap.dedent(HELPER))
    (root / name / "boot.py").write_text(textwrap.dedent(BOOT))
    return site


def test_the_same_code_in_two_checkouts_is_matched_function_by_function(tmp_path):
    for name in ("va", "vb"):
        site = _checkout(tmp_path, name)
        r = run_diag(
            ["profile", "-q", f"{name}/boot.py"],
            cwd=tmp_path,
            out=tmp_path / f"r{name}",
            env={"PYTHONPATH": str(site)},
        )
        assert r.returncode == 0, r.stderr
        files = {f.file for f in r.report.time.functions if f.name in ("work", "main")}
        assert files == {str(site / "helper.py"), str(tmp_path / name / "boot.py")}, files
    r = run_diag(["diff", "rva", "rvb", "--fail-above", "25", "--json"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    changes = data["regressions"] + data["improvements"]
    assert [c for c in changes if c["pct"] is None or c["pct"] == -1.0] == []
    assert not any("the runs differ" in n for n in data["notes"])
    text = run_diag(["diff", "rva", "rvb"], cwd=tmp_path)
    assert "function" not in text.stdout and "the runs differ" not in text.stdout
