"""Every input a user can get wrong: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_diag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "missing.py"], "missing.py: no such file"),
        (["profile", "adir"], "adir is a directory, not a Python script"),
        (["profile", "-m", "no_such_module_xyz"], "no module named 'no_such_module_xyz'"),
        (["profile", "-m", "json.no_such_sub"], "no module named 'json.no_such_sub'"),
        (["profile"], "nothing to profile"),
        (["profile", "--rate", "0", "ok.py"], "--rate"),
        (["profile", "--timeout", "-1", "ok.py"], "--timeout"),
        (["profile", "--bogus", "ok.py"], "--bogus"),
        (["report", "nowhere"], "nowhere: no such file"),
        (["report", "ok.py"], "not a diag report"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "ok.py").write_text("print('x')\n")
    run = run_diag(args, cwd=tmp_path)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("diag: error: ")
    assert message in lines[0]


def test_a_module_that_cannot_be_started_is_said_once_and_flagged_in_the_report(tmp_path):
    run = run_diag(["profile", "-m", "no_such_module_xyz"], cwd=tmp_path)
    assert run.returncode == 2
    why = run.stderr.removeprefix("diag: error: ").rstrip("\n")
    assert why.startswith("-m no_such_module_xyz: no module named 'no_such_module_xyz'")
    outcome = run.report.outcome
    assert (outcome.bad_target, outcome.detail) == (why, f"bad target: {why}")


def test_unwritable_out_fails_before_running(tmp_path):
    (tmp_path / "ok.py").write_text("open('ran', 'w').write('1')\n")
    (tmp_path / "afile").write_text("")
    run = run_diag(["profile", "ok.py"], cwd=tmp_path, out=tmp_path / "afile" / "sub")
    assert run.returncode == 2
    assert run.stderr.startswith("diag: error: --out ")
    assert not (tmp_path / "ran").exists()


def test_report_rerenders_a_saved_report(tmp_path, script):
    target = script("w.py", "def work():\n    return sum(i*i for i in range(3_000_000))\nwork()\n")
    first = run_diag(["profile", str(target)], cwd=tmp_path)
    again = run_diag(["report", str(first.out_dir)], cwd=tmp_path)
    assert again.returncode == 0
    assert "work" in again.stdout and "peak RSS" in again.stdout
    assert run_diag(["report", str(first.out_dir / "report.json")], cwd=tmp_path).returncode == 0
