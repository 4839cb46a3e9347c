"""``diag diff`` on real runs: the same work passes, a regressed function is caught, bad input is one line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_diag

WORK = """
import sys

def steady(n):
    t = 0
    for i in range(n):
        t += i % 7
    return t

def scaled(n):
    t = 0
    for i in range(n):
        t += i * i % 11
    return t

factor = int(sys.argv[1])
steady(14_000_000)
scaled(10_000_000 * factor)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of the work in base/ and in same/, two with scaled() doing three times as much in
    triple/. Three, not two: on a shared VM two identical runs were seen to differ by 52% in CPU
    time and by 7 points in their own split, which brings a doubling close to the noise floor
    that `diag diff` must respect.

    Each side is two runs because a machine shared with other jobs slows a random stretch of
    a single run by up to 2x (measured here: 2 of 30 pairs of single runs of this work moved
    one function by over 50% against the rest); every entry is taken from its best run.
    """
    folder = tmp_path_factory.mktemp("diff")
    (folder / "work.py").write_text(WORK)
    # Interleaved, so that a slow stretch of the machine falls on every side alike.
    for n in ("1", "2"):
        for side, factor in (("base", "1"), ("triple", "3"), ("same", "1")):
            r = run_diag(["profile", "-q", "work.py", factor], cwd=folder, out=folder / side / n)
            assert r.returncode == 0, r.stderr
    return folder


@pytest.mark.slow
def test_runs_of_the_same_work_do_not_fail(runs):
    r = run_diag(["diff", "base", "same", "--fail-above", "50"], cwd=runs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "best of 2 runs" in r.stdout


@pytest.mark.slow
def test_a_tripled_function_is_caught_and_named_first(runs):
    r = run_diag(["diff", "base", "triple", "--fail-above", "50", "--json"], cwd=runs)
    assert r.returncode == 1, r.stdout
    data = json.loads(r.stdout)
    funcs = {c["name"]: c for c in data["regressions"] if c["kind"] == "function"}
    assert "scaled" in funcs and "steady" not in funcs
    # Three times the work is ~+200% against the rest; a CI machine was seen at +88%, so the
    # bound is what a tripling keeps under that noise and what a wrong ratio (0, or the share) misses.
    assert 0.5 < funcs["scaled"]["vs_rest"] < 6.0
    assert funcs["scaled"]["pct"] > 0.6
    assert [c["name"] for c in data["failed"]] == ["scaled"]  # lines and the run total never decide
    assert "function scaled" in r.stderr and r.stderr.count("\n") == 1
    text = run_diag(["diff", "base", "triple"], cwd=runs)
    assert text.returncode == 0  # no --fail-above: report only
    assert "scaled" in text.stdout and "Slower or bigger (" in text.stdout
    single = run_diag(["diff", "base/1/report.json", "triple/1"], cwd=runs)
    assert single.returncode == 0 and "best of" not in single.stdout


def test_bad_input_is_one_line(tmp_path, runs):
    out = {"base": runs / "base" / "1"}
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "garbage.json").write_text("not json")
    future = json.loads((out["base"] / "report.json").read_text())
    future["schema_version"] = "2.0"
    (tmp_path / "future.json").write_text(json.dumps(future))
    base = str(out["base"])
    cases = {
        "missing": ([base, str(tmp_path / "nope")], "no such file"),
        "not a report": ([base, str(tmp_path / "notes.json")], "not a diag report"),
        "not json": ([str(tmp_path / "garbage.json"), base], "not a diag report"),
        "newer schema": ([base, str(tmp_path / "future.json")], "schema_version 2.0"),
        "speedscope": ([base, str(out["base"] / "profile.speedscope.json")], "not a diag report"),
    }
    for what, (args, msg) in cases.items():
        r = run_diag(["diff", *args], cwd=tmp_path)
        assert r.returncode == 2, what
        assert r.stderr.startswith("diag: error: ") and msg in r.stderr, (what, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stdout == "", what
