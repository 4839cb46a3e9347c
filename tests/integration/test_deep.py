"""``diag profile --deep``: exact counts from real cProfile, line_profiler and tracemalloc passes."""

from __future__ import annotations

import pstats

import pytest

from tests.conftest import run_diag

COUNTS = """
def tiny(v):
    return v + 1

def work(n):
    s = 0
    for i in range(n):
        s += tiny(i)
    return s

class Acc:
    def step(self, k):
        total = 0
        for j in range(k):
            total += j * j % 7
        total += 0 * sum(range(2_000_000))  # native time: the method is sampled in a short run
        return total

def main():
    for _ in range(7):
        work(20_000)
    acc = Acc()
    for _ in range(5):
        acc.step(60_000)
    print("finished once")

main()
"""
# work: 7 calls, 7 * 20_000 = 140_000 calls of tiny; Acc.step: 5 calls of 60_000 iterations.


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deep")
    target = tmp / "counts.py"
    target.write_text(COUNTS)
    return run_diag(["profile", "--deep", "--lines", "work", str(target)], cwd=tmp), target


def _lines(report, function):
    prof = next(p for p in report.deep.lines if p.function == function)
    return prof, {ln.source: ln.hits for ln in prof.lines}


def test_call_counts_are_exact_and_joined_to_the_sampled_table(counted):
    run, target = counted
    assert run.returncode == 0, run.stderr
    calls = {c.function: c for c in run.report.deep.calls if c.file == str(target)}
    assert calls["tiny"].calls == 140_000
    assert calls["work"].calls == 7
    assert calls["Acc.step"].calls == 5
    assert calls["main"].calls == 1
    assert [e.function for e in calls["tiny"].callers] == ["work"]
    assert calls["tiny"].callers[0].calls == 140_000
    assert {e.function for e in calls["main"].callees} >= {"work", "Acc.step"}
    # py-spy names the method "Acc.step", cProfile "step": the join must still find it.
    sampled = {f.name: f for f in run.report.time.functions}
    assert sampled["Acc.step"].calls == 5
    assert sampled["main"].calls == 1


def test_line_hits_are_exact_for_hot_and_named_functions(counted):
    run, _ = counted
    step, hits = _lines(run.report, "Acc.step")
    assert step.reason == "hot in the sampled pass"
    assert hits["for j in range(k):"] == 5 * 60_001
    assert hits["total += j * j % 7"] == 5 * 60_000
    assert hits["total = 0"] == 5
    assert sum(ln.share for ln in step.lines) == pytest.approx(1.0)
    work, hits = _lines(run.report, "work")
    assert work.reason == "--lines"
    assert hits["for i in range(n):"] == 7 * 20_001
    assert hits["s += tiny(i)"] == 140_000


def test_pstats_file_is_readable_and_agrees(counted):
    run, target = counted
    assert run.report.files["pstats"] == "profile.pstats"
    stats = pstats.Stats(str(run.out_dir / "profile.pstats")).stats  # type: ignore[attr-defined]
    (tiny,) = [v for (f, _, name), v in stats.items() if f == str(target) and name == "tiny"]
    assert tiny[1] == 140_000


def test_unknown_name_is_an_error_with_the_closest_match_before_anything_runs(tmp_path, script):
    target = script("counts.py", COUNTS)
    run = run_diag(["profile", "--deep", "--lines", "work,wrk", str(target)], cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "diag: error: --lines wrk: no function 'wrk' in counts.py; closest: work"
    ]
    assert run.stdout == ""  # the program never ran
    assert not run.out_dir.exists()


def test_passes_are_recorded_and_agree(counted):
    run, _ = counted
    deep = run.report.deep
    assert [p.name for p in deep.passes] == ["tracers", "memory"]
    assert all(p.complete and p.exit_code == 0 for p in deep.passes)
    assert not deep.diverged, deep.divergence
    assert deep.sources["time shares"].startswith("sampled pass")
    assert deep.sources["calls, callers, callees"].startswith("tracers pass")
    # The program's output shows once: the deep passes write it to their logs.
    assert run.stdout.count("finished once") == 1
    assert "finished once" in (run.out_dir / "deep-tracers.log").read_text()
    assert "Lines of Acc.step" in run.stderr and "140,000" in run.stderr


NUMBA = """
import numpy as np
from numba import njit

@njit(cache=True)
def kern(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * 2.0
    return s

def driver():
    a = np.arange(1000.0)
    return sum(kern(a) for _ in range(3))

print(driver())
"""


@pytest.mark.parametrize("no_jit", [False, True])
def test_numba_function_is_skipped_when_jitted_and_traced_under_no_jit(tmp_path, script, no_jit):
    target = script("nb.py", NUMBA)
    args = ["profile", "--deep", "--lines", "kern", *(["--no-jit"] if no_jit else []), str(target)]
    # Cached, so only the sampled pass compiles: compiling under tracemalloc costs ~10x.
    run = run_diag(args, cwd=tmp_path, env={"NUMBA_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2997000.0"
    deep = run.report.deep
    kern, hits = _lines(run.report, "kern")
    assert deep.jit_disabled is no_jit
    if no_jit:
        assert kern.status == "traced"
        assert hits["for i in range(a.shape[0]):"] == 3 * 1001
        assert hits["s += a[i] * 2.0"] == 3000
        assert any("NUMBA_DISABLE_JIT" in n for n in deep.notes)
        assert deep.passes[0].jit_disabled
    else:
        assert kern.status == "jitted" and kern.lines == []
        assert "--no-jit" in run.stderr


ALLOC = """
import numpy as np

def build():
    block = np.ones(1 << 27)  # 1 GiB, every page touched
    return float(block[::4096].sum())

def small():
    parts = [np.zeros(1000) for _ in range(200)]
    return len(parts)

small()
print(build())
"""


@pytest.mark.slow
def test_one_gib_allocation_is_found_at_its_line(tmp_path, script):
    target = script("alloc.py", ALLOC)
    args = ["profile", "--deep", "--memory-lines", "build,small", str(target)]
    run = run_diag(args, cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr
    allocs = run.report.deep.allocations
    assert allocs is not None and allocs.available
    top = allocs.sites[0]
    assert (top.file, top.line, top.source) == (
        str(target),
        5,
        "block = np.ones(1 << 27)  # 1 GiB, every page touched",
    )
    assert top.bytes >= 1 << 30
    assert "numpy" in top.origin  # np.ones allocates inside numpy; the site is its caller
    assert allocs.traced_peak >= 1 << 30
    assert allocs.largest_bytes == 1 << 30
    # Two frames kept per block; the callers come from the stack at the snapshot.
    chain = [(f.function, f.line) for f in allocs.largest_traceback]
    assert chain[:2] == [("<module>", 13), ("build", 5)]
    assert chain[2][0] == "ones" and len(chain) == 3
    mem = {p.function: {ln.line: ln for ln in p.lines} for p in run.report.deep.memory_lines}
    assert mem["build"][5].increment == pytest.approx(1 << 30, rel=0.1)
    assert mem["build"][5].hits == 1
    # The comprehension's arrays land on its own line, never as a negative increment.
    assert mem["small"][9].increment >= 0
    assert all(ln.increment > -(1 << 20) for p in run.report.deep.memory_lines for ln in p.lines)


UNSEEDED = """
import os, sys

def slow_path():
    # Long enough that the tracers' own start-up (~0.3 s of CPU) stays far below half of it.
    s = 0
    for i in range(30_000_000):
        s += i % 3
    return s

def fast_path():
    return 0

marker = sys.argv[1]
first = not os.path.exists(marker)
open(marker, "a").close()
print(slow_path() if first else fast_path())
"""


def test_passes_that_do_different_work_are_reported_as_diverged(tmp_path, script):
    # Only the first run takes the slow path, as an unseeded estimator might.
    target = script("unseeded.py", UNSEEDED)
    run = run_diag(["profile", "--deep", str(target), str(tmp_path / "ran")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    deep = run.report.deep
    assert deep.diverged
    text = " | ".join(deep.divergence)
    assert "never called in the tracers pass: slow_path" in text
    assert "the tracers pass used" in text and "the memory pass used" in text
    assert "the passes diverged" in run.stderr
