"""Memory, Numba, warnings, ranges and environment: each section against values the program fixes."""

from __future__ import annotations

import json

import jsonschema
import pytest

from diagkit.model.report import SCHEMA_VERSION
from tests.conftest import ROOT, run_diag


def test_warnings_counted_every_time_printed_as_python_prints_them(tmp_path, script):
    target = script(
        "warn.py",
        """
        import warnings
        import numpy as np
        for _ in range(1000):
            np.log(np.zeros(2))                 # printed once (default action), counted 1000x
        for i in range(3):
            warnings.warn(f"cell {i} dropped", UserWarning)
        warnings.warn("quiet", DeprecationWarning)  # ignored by default: not printed
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    program_err = run.stderr.split("─")[0]
    assert program_err.count("divide by zero encountered in log") == 1
    assert program_err.count("cell 1 dropped") == 1
    assert "quiet" not in program_err
    counts = {w.message: w.count for w in run.report.numerics.warnings}
    assert counts["divide by zero encountered in log"] == 1000
    assert counts["cell 0 dropped"] == 1 and counts["cell 2 dropped"] == 1
    assert counts["quiet"] == 1  # counted even though python does not print it
    log = next(w for w in run.report.numerics.warnings if "log" in w.message)
    assert (log.category, log.line, log.file) == ("RuntimeWarning", 5, str(target))


def test_warnings_as_errors_still_raise(tmp_path, script):
    target = script("werr.py", "import warnings\nwarnings.warn('bad fit', UserWarning)\n")
    run = run_diag(["profile", str(target)], cwd=tmp_path, env={"PYTHONWARNINGS": "error"})
    assert run.returncode == 1
    assert run.report.outcome.exception.type == "UserWarning"


def test_numba_compiles_are_timed_per_signature(tmp_path, script):
    target = script(
        "jit.py",
        """
        import numpy as np
        from numba import njit

        @njit
        def inner(x):
            return x * 2.0

        @njit
        def total(a):
            s = 0.0
            for v in a:
                s += inner(v)
            return s

        total(np.arange(10.0))
        total(np.arange(10, dtype=np.int64))
        total(np.arange(10.0))                 # no new compile
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path, env={"NUMBA_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    jit = run.report.jit
    assert jit.available
    funcs = {f.function.split(":")[1]: f for f in jit.functions}
    assert funcs["total"].compiles == 2
    assert sorted(funcs["total"].signatures) == ["(array(float64, 1d, C))", "(array(int64, 1d, C))"]
    assert funcs["inner"].compiles >= 2  # compiled inside total's compiles: nested
    total_c = [c for c in jit.compiles if c.function.endswith(":total")]
    assert all(c.seconds < c.inclusive_s for c in total_c)  # inner's compile is excluded
    assert jit.total_compile_s == pytest.approx(sum(c.seconds for c in jit.compiles))
    assert 0.05 < jit.total_compile_s < run.report.outcome.wall_s


def test_numba_absent_is_said_not_faked(tmp_path, script):
    run = run_diag(["profile", str(script("plain.py", "print(1)\n"))], cwd=tmp_path)
    assert not run.report.jit.available
    assert "did not import numba" in run.report.jit.unavailable_reason


def test_ranges_count_nesting_and_threads(tmp_path, script):
    target = script(
        "ranges.py",
        """
        import threading, time, diagkit

        @diagkit.range("cell")
        def cell():
            time.sleep(0.01)

        with diagkit.range("estimate"):
            for _ in range(5):
                cell()
        t = threading.Thread(target=cell); t.start(); t.join()
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    stats = {s.name: s for s in run.report.ranges.stats}
    assert stats["cell"].count == 6 and stats["estimate"].count == 1
    assert stats["cell"].min_s >= 0.01
    assert stats["estimate"].total_s >= 5 * 0.01
    depth = {(e.name, e.depth) for e in run.report.ranges.events}
    assert ("estimate", 0) in depth and ("cell", 1) in depth and ("cell", 0) in depth
    est = next(e for e in run.report.ranges.events if e.name == "estimate")
    assert 0 <= est.start_t < est.end_t <= run.report.outcome.wall_s + 0.05


def test_peak_rss_matches_the_programs_own_high_water_mark(tmp_path, script):
    target = script(
        "mem.py",
        """
        import json, resource, sys, time
        import numpy as np
        time.sleep(0.2)
        a = np.ones(80_000_000)        # 640 MB, touched
        del a
        time.sleep(0.3)
        json.dump(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, open(sys.argv[1], "w"))
        """,
    )
    own = tmp_path / "own.json"
    run = run_diag(["profile", str(target), str(own)], cwd=tmp_path)
    mem = run.report.memory
    truth = json.loads(own.read_text())
    assert mem.peak_rss == pytest.approx(truth, rel=0.02)
    assert mem.peak_rss > 640e6
    assert mem.final_rss < mem.peak_rss - 500e6  # the timeline shows the drop after del
    assert 0.15 < mem.peak_t < run.report.outcome.wall_s


def test_environment_names_imported_packages_and_switches(tmp_path, script):
    target = script("envp.py", "import numpy, click\n")
    run = run_diag(["profile", str(target)], cwd=tmp_path, env={"NUMBA_NUM_THREADS": "1"})
    env = run.report.environment
    pk = {p.name.lower(): p for p in env.packages}
    import numpy

    assert pk["numpy"].version == numpy.__version__
    assert "click" in pk and pk["click"].modules == ["click"]
    assert "diagkit" in pk and pk["diagkit"].editable == _diagkit_is_editable()
    assert env.variables["NUMBA_NUM_THREADS"] == "1"


def _diagkit_is_editable() -> bool:
    import diagkit

    return str(ROOT) in diagkit.__file__


def test_report_validates_against_the_published_schema(tmp_path, script):
    target = script(
        "s.py", "import warnings, diagkit\nwith diagkit.range('r'):\n    warnings.warn('w')\n"
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(run.raw, schema)
    assert run.raw["schema_version"] == SCHEMA_VERSION
