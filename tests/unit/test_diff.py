"""``diag diff``: real runs of the same work pass, a regressed function is caught, bad input is one line."""

from __future__ import annotations

import json

import pytest

from diagkit.compare.changes import DiffOptions, diff_reports
from diagkit.model.gpu import GpuDurationStats, GpuKernel, GpuSection
from diagkit.model.report import (
    FunctionTime,
    JitFunction,
    Outcome,
    RangeStat,
    Report,
    Target,
    TimeSection,
)
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


def _rep(wall: float = 10.0, cpu: float = 10.0) -> Report:
    return Report(
        "1.0",
        "0.1.0",
        "now",
        ["diag"],
        Target(["x.py"], "script", "/w", "py"),
        Outcome("exit", 0, wall_s=wall, cpu_user_s=cpu),
    )


def test_memory_compile_gpu_and_ranges_are_compared_and_sorted_by_impact():
    a, b = _rep(), _rep()
    a.memory.peak_rss, b.memory.peak_rss = 1000 << 20, 1600 << 20  # +60%
    a.jit.functions = [JitFunction("m:f", 1, 2.0)]
    b.jit.functions = [JitFunction("m:f", 1, 3.0)]  # +1 s of a 10 s run
    a.ranges.stats = [
        RangeStat("fit", 1, 5.0, 5.0, 5.0, 5.0),
        RangeStat("tiny", 1, 0.01, 0.01, 0.01, 0.01),
    ]
    b.ranges.stats = [
        RangeStat("fit", 1, 5.5, 5.5, 5.5, 5.5),
        RangeStat("tiny", 1, 0.03, 0.03, 0.03, 0.03),
    ]
    a.gpu = GpuSection(kernel_s=0.2, kernels=[GpuKernel("k", GpuDurationStats(10, 0.2), 1.0)])
    b.gpu = GpuSection(kernel_s=0.5, kernels=[GpuKernel("k", GpuDurationStats(10, 0.5), 1.0)])
    res = diff_reports(a, b)
    got = [(c.kind, c.name, round(c.pct or 0, 2)) for c in res.regressions]
    assert got == [
        ("gpu kernel", "k", 1.5),
        ("memory", "peak RSS", 0.6),
        ("compile", "m:f", 0.5),
        ("range", "fit", 0.1),
    ]
    assert [c.kind for c in res.over(40)] == ["gpu kernel", "memory", "compile"]
    assert res.ignored >= 2  # "tiny" (+200% of 10 ms) and the unchanged run time


def test_a_machine_twice_as_busy_is_not_a_regression_by_default():
    a, b = _rep(wall=10, cpu=9), _rep(wall=20, cpu=9)  # same CPU, twice the wall
    a.ranges.stats = [RangeStat("fit", 1, 8.0, 8.0, 8.0, 8.0)]
    b.ranges.stats = [RangeStat("fit", 1, 16.0, 16.0, 16.0, 16.0)]
    assert diff_reports(a, b).regressions == []
    wall = diff_reports(a, b, DiffOptions(wall=True))
    assert {(c.kind, c.name) for c in wall.over(50)} == {("run", "wall time"), ("range", "fit")}


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


def _sampled(cpu: float, f: int, g: int) -> Report:
    rep = _rep(wall=cpu, cpu=cpu)
    n = f + g
    rep.time = TimeSection(
        rate_hz=100,
        samples=n,
        functions=[
            FunctionTime("f", "/w/m.py", 1, f, f, f / 100, f / 100, f / n, f / n),
            FunctionTime("g", "/w/m.py", 9, g, g, g / 100, g / 100, g / n, g / n),
        ],
    )
    return rep


def test_a_uniformly_slower_run_is_listed_but_decides_nothing():
    base, slower = _sampled(2.0, 100, 100), _sampled(3.2, 160, 160)  # same work, 60% slower
    res = diff_reports(base, slower)
    assert [(c.kind, c.name, c.decides) for c in res.regressions] == [("run", "CPU time", False)]
    assert res.over(50) == []
    assert {c.name for c in diff_reports(base, slower, DiffOptions(wall=True)).over(50)} == {
        "wall time",
        "f",
        "g",
    }
    doubled = diff_reports(base, _sampled(3.0, 200, 100))
    (f,) = [c for c in doubled.regressions if c.kind == "function"]
    assert (f.name, round(f.pct, 2), round(f.vs_rest, 2)) == ("f", 1.0, 1.0)
    assert [c.name for c in doubled.over(50)] == ["f"]
