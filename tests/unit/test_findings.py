"""The findings rules on reports whose right answer is known, and a wrong answer visible."""

from __future__ import annotations

from diagkit.compare.changes import diff_reports
from diagkit.diagnose.findings import diagnose
from diagkit.model.cpu import CpuLoadSection, ThreadCpu
from diagkit.model.deep import AllocSection, AllocSite, DeepSection
from diagkit.model.imports import ImportedModule, ImportsSection, Submodule
from diagkit.model.report import (
    FunctionTime,
    JitCompile,
    JitFunction,
    LineTime,
    Outcome,
    Report,
    RssPoint,
    Target,
    ThreadTime,
    WarningRecord,
)

PROG = "/home/u/est/fit.py"


def _report(wall: float = 10.0) -> Report:
    r = Report(
        "1.4", "0.1.0", "now", ["diag"], Target(["fit.py"], "script", "/", "py"), Outcome("exit", 0)
    )
    r.outcome.wall_s = r.time.sampled_s = r.time.active_s = wall
    r.time.samples = int(250 * wall)
    return r


def _fn(name: str, own: float, file: str = PROG, line: int = 10, wall: float = 10.0):
    return FunctionTime(name, file, line, 0, 0, own * wall, own * wall, own, own)


def _kinds(r: Report) -> list[str]:
    return [f.kind for f in diagnose(r)]


def test_a_plain_loop_gets_no_compile_and_no_import_finding():
    r = _report()
    r.time.functions = [_fn("loop", 0.3), _fn("<module>", 0.7)]
    r.time.imports = ImportsSection(0.05, 0.005, [ImportedModule("json", 0.05, 0.005)])
    r.jit.available = False
    assert _kinds(r) == []


def test_a_compile_over_15_percent_is_found_with_its_function_and_the_cache():
    r = _report()
    r.jit.total_compile_s = 4.15
    r.jit.functions = [
        JitFunction("est.boot:high_sums_chunk", 3, 3.9, signatures=["(a)", "(b)", "(c)"]),
        JitFunction("est.boot:small", 1, 0.25, signatures=["(a)"]),
    ]
    (f,) = diagnose(r)
    assert (f.kind, f.severity, f.where) == ("numba-compile", "high", "est.boot:high_sums_chunk")
    assert "during 4.15 s of the run (42%" in f.message and "3 compiles" in f.message
    assert "nothing came from Numba's cache" in f.message
    # Two threads compiling at once: the run waited 2 s, not the 3 s of their sum.
    r.jit.compiles = [
        JitCompile("a", "", 1.0, 1.5, 1.5),
        JitCompile("b", "", 1.5, 1.5, 1.5),
        JitCompile("a.inner", "", 1.2, 0.5, 0.5),
    ]
    assert "during 2.00 s of the run (20%" in diagnose(r)[0].message
    r.jit.compiles = []
    assert "cache=True" in f.advice and "3 signatures" in f.advice
    r.jit.functions[0].cache_hits = 2
    assert "2 of 6 loads came from Numba's cache" in diagnose(r)[0].message
    r.jit.total_compile_s = 1.4  # 14%: below the threshold
    assert _kinds(r) == []


def test_imports_over_20_percent_name_the_modules_and_their_slowest_parts():
    r = _report()
    slow = [Submodule("polars.io", 1.0, 0.1)]
    r.time.imports = ImportsSection(
        5.4,
        0.54,
        [ImportedModule("polars", 4.0, 0.4, slow), ImportedModule("moderndid", 1.4, 0.14)],
    )
    (f,) = diagnose(r)
    assert (f.kind, f.severity, f.where) == ("imports", "high", "polars")
    assert "imports took 5.40 s (54% of the run): polars 4.00 s, moderndid 1.40 s" in f.message
    assert "within polars, polars.io 1.00 s" in f.message


def test_a_function_holding_half_the_time_is_found_at_its_hottest_line():
    r = _report()
    r.time.functions = [_fn("bootstrap", 0.62, line=40), _fn("<module>", 0.9, line=1)]
    r.time.lines = [
        LineTime("bootstrap", PROG, 44, 0, 5.0, 0.5, own_share=0.51),
        LineTime("bootstrap", PROG, 41, 0, 1.0, 0.1, own_share=0.11),
    ]
    (f,) = diagnose(r)
    assert (f.kind, f.where) == ("hot-function", "/home/u/est/fit.py:44")
    assert "bootstrap" in f.message and "62%" in f.message and "51% on line 44" in f.message
    # diag's own rows have findings of their own; a compile row is not "a hot function".
    r.time.functions = [
        _fn("[numba compile] m:f (float64[:])", 0.7, file="<numba compile>", line=0)
    ]
    assert _kinds(r) == []


def test_nan_warnings_are_found_at_the_first_place_they_came_from():
    r = _report()
    r.numerics.warnings = [
        WarningRecord("RuntimeWarning", "invalid value encountered in log", PROG, 30, 900, 2.5),
        WarningRecord("RuntimeWarning", "divide by zero encountered in divide", PROG, 12, 100, 0.4),
        WarningRecord("DeprecationWarning", "old api", PROG, 5, 1, 0.1),
    ]
    (f,) = diagnose(r)
    assert (f.kind, f.severity, f.where) == ("invalid-values", "high", "/home/u/est/fit.py:12")
    assert f.message.startswith("1,000 NaN/inf warnings: the first at")
    r.numerics.warnings = r.numerics.warnings[2:]  # a deprecation is not an invalid value
    assert _kinds(r) == []
    r.numerics.warnings.append(
        WarningRecord("NumericWarning", "beta: 3 of 8 values are not finite", PROG, 60, 1, 1.0)
    )
    assert diagnose(r)[0].where == "/home/u/est/fit.py:60"  # diagkit.check_finite's


def test_a_memory_spike_is_found_against_the_mean_and_a_plateau_is_not():
    r = _report()
    gib = 1 << 30
    r.memory.timeline = [RssPoint(t / 10, gib // 2) for t in range(100)]
    r.memory.timeline[50] = RssPoint(5.0, 3 * gib)
    r.memory.peak_rss, r.memory.peak_t = 3 * gib, 5.0
    (f,) = diagnose(r)
    assert f.kind == "memory-peak" and "3.0 GiB after 5.00 s" in f.message, f.message
    assert 5.5 < f.evidence[2].value < 6.1  # 3 GiB over a mean of ~0.525 GiB
    r.memory.timeline = [RssPoint(t / 10, 3 * gib) for t in range(100)]
    assert _kinds(r) == []


def test_findings_are_ranked_by_severity_then_by_the_seconds_at_stake():
    r = _report()
    r.jit.total_compile_s = 1.6
    r.jit.functions = [JitFunction("m:f", 1, 1.6, signatures=["(a)"])]
    r.time.functions = [_fn("loop", 0.6)]
    r.numerics.warnings = [WarningRecord("RuntimeWarning", "overflow encountered", PROG, 3, 1, 1.0)]
    assert _kinds(r) == ["invalid-values", "hot-function", "numba-compile"]


def test_findings_survive_the_report_file():
    r = _report()
    r.findings = diagnose(
        _with(r, numerics=[WarningRecord("RuntimeWarning", "invalid value", PROG, 3, 2, 1.0)])
    )
    back = Report.from_json(r.to_json())
    assert back.findings == r.findings and back.findings[0].evidence[0].name == "warnings"


def _with(r: Report, numerics: list[WarningRecord]) -> Report:
    r.numerics.warnings = numerics
    return r


def test_diff_lists_the_findings_that_appeared_and_went_away():
    base, new = _report(), _report()
    base.time.functions = [_fn("loop", 0.7)]
    new.numerics.warnings = [WarningRecord("RuntimeWarning", "invalid value", PROG, 3, 2, 1.0)]
    res = diff_reports(base, new)
    assert [f.kind for f in res.appeared] == ["invalid-values"]
    assert [f.kind for f in res.went_away] == ["hot-function"]
    same = diff_reports(base, base)
    assert (same.appeared, same.went_away) == ([], [])


def test_a_main_thread_that_waits_most_of_the_run_is_found_where_it_waited():
    r = _report()
    r.time.waiting_s = 4.0
    r.time.waits = [LineTime("fetch", PROG, 22, 900, 3.5, 0.35, source="data = sock.recv(4096)")]
    (f,) = diagnose(r)
    assert (f.kind, f.where) == ("waiting", "/home/u/est/fit.py:22")
    assert "waited 4.00 s (40% of the run)" in f.message and "data = sock.recv(4096)" in f.message
    r.time.waiting_s = 2.5  # a quarter of the run: below the threshold
    assert _kinds(r) == []


def test_the_memory_spike_names_the_line_deep_saw_allocating_near_the_peak():
    r = _report()
    gib = 1 << 30
    r.memory.timeline = [RssPoint(t / 10, gib // 2) for t in range(100)]
    r.memory.timeline[50] = RssPoint(5.0, 3 * gib)
    r.memory.peak_rss, r.memory.peak_t = 3 * gib, 5.0
    big = AllocSite(PROG, 44, 2 * gib, 3, "x = np.empty((n, n))")
    r.deep = DeepSection(allocations=AllocSection(sites=[AllocSite(PROG, 9, 1 << 20, 1), big]))
    (f,) = diagnose(r)
    assert f.where == "/home/u/est/fit.py:44"
    assert "2.0 GiB live from" in f.message and "x = np.empty((n, n))" in f.message
    assert "fit.py:44" in f.advice


def _load(**kw) -> CpuLoadSection:
    base = dict(available=True, unavailable_reason="", cores=2, peak_processes=5)
    return CpuLoadSection(**{**base, **kw})


def test_threads_queueing_for_the_cores_are_found_with_the_settings_to_change():
    r = _report()
    r.cpu = _load(
        peak_threads=20,
        busy_processes=4,
        cpu_s=16.0,
        run_wait_s=24.0,
        thread_settings={"OPENBLAS_NUM_THREADS": "4"},
    )
    (f,) = diagnose(r)
    assert (f.kind, f.severity) == ("oversubscribed", "high")
    assert "waited 24.00 s for a core against 16.00 s on one" in f.message
    assert "on average 4.0 threads wanted the 2 cores" in f.message
    assert "20 threads in 4 busy processes; OPENBLAS_NUM_THREADS=4" in f.message
    assert "OPENBLAS_NUM_THREADS=1" in f.advice and "for 4 processes" in f.advice
    r.cpu.run_wait_s = 2.0  # the same threads barely queueing: no finding
    assert _kinds(r) == []
    r.cpu.run_wait_s, r.cpu.peak_threads = 24.0, 2  # queueing, but not for its own threads
    assert _kinds(r) == []


def test_one_busy_process_on_many_cores_is_told_to_use_them_all():
    r = _report()
    r.cpu = _load(cores=16, peak_threads=64, busy_processes=1, cpu_s=120.0, run_wait_s=40.0)
    (f,) = diagnose(r)
    assert f.severity == "medium" and "OMP_NUM_THREADS=16" in f.advice


def _threads(r: Report, per_thread: list[tuple[float, float, int]]) -> None:
    r.time.threads = [
        ThreadTime(f'Thread {100 + i} "w{i}"', 0, 0.0, seconds=py, tid=100 + i)
        for i, (py, _, _) in enumerate(per_thread)
    ]
    rows = [ThreadCpu(100 + i, 7, cpu, 0.0, runs) for i, (_, cpu, runs) in enumerate(per_thread)]
    r.cpu = _load(cores=8, peak_threads=len(rows), busy_processes=1, threads=rows)
    r.cpu.cpu_s = sum(x.cpu_s for x in rows)


def test_threads_in_python_that_share_one_core_are_gil_bound():
    r = _report()
    _threads(r, [(9.0, 2.6, 900), (9.0, 2.4, 900), (8.0, 2.5, 800), (8.0, 2.5, 800), (0.5, 0.5, 9)])
    (f,) = diagnose(r)
    assert (f.kind, f.severity) == ("gil-bound", "high")
    assert "4 threads (w0, w1, w2, w3) were in Python for 34.00 s" in f.message
    assert "on a core for 10.00 s" in f.message and "ProcessPoolExecutor" in f.advice
    # The same turns taken inside Numba's compiler (its lock): the compile finding's matter.
    r.time.functions = [
        FunctionTime("[numba compile] m:f", "<numba compile>", 0, 0, 0, 0.0, 12.0, 0.0, 0.35)
    ]
    assert "gil-bound" not in _kinds(r)
    r.time.functions = []
    # The same threads each on a core of its own (NumPy let go of the GIL): no finding.
    _threads(r, [(9.0, 8.8, 50), (9.0, 8.7, 50), (8.0, 7.9, 50), (8.0, 7.9, 50)])
    assert _kinds(r) == []
    # Each thread's work done by BLAS helper threads of the same process: not a GIL matter.
    _threads(r, [(9.0, 2.0, 900), (9.0, 2.0, 900), (0.1, 7.0, 900), (0.1, 7.0, 900)])
    assert _kinds(r) == []
    # Threads blocked in C calls the samples take for Python (a pipe's read): never on a core.
    _threads(r, [(9.0, 0.0, 2), (9.0, 0.0, 1), (8.0, 0.0, 3)])
    assert _kinds(r) == []
    # One busy thread waiting on I/O in C: not a GIL matter.
    _threads(r, [(9.0, 1.0, 900), (0.5, 0.5, 9)])
    assert _kinds(r) == []


def test_time_in_numbas_dispatcher_with_no_compile_heard_is_named_a_cache_load():
    r = _report()
    r.jit.functions = []
    r.time.functions = [
        FunctionTime(
            "[numba compile or cache load]", "<numba compile>", 0, 0, 0, 3.0, 3.0, 0.3, 0.3
        )
    ]
    (f,) = diagnose(r)
    assert (f.kind, f.where) == ("numba-compile", "[numba compile or cache load]")
    assert "30% of the sampled work" in f.message and "once per process" in f.advice
    r.time.functions[0].total_s = 1.0  # 10% of the run: not worth a finding
    assert _kinds(r) == []
