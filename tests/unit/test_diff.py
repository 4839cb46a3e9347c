"""``diag diff`` on reports made here: what is compared, how it is sorted, what decides a regression."""

from __future__ import annotations

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
