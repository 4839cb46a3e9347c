"""However the target ends, diag writes a report that says how, and returns the target's status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import run_diag


def test_uncaught_exception_exit_1_traceback_without_diag_frames(tmp_path, script):
    target = script(
        "boom.py",
        """
        def fit(x):
            raise ValueError(f"singular design: rank {x}")
        fit(3)
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 1
    out = run.report.outcome
    assert out.kind == "exception" and out.exit_code == 1
    assert out.exception.type == "ValueError"
    assert out.exception.message == "singular design: rank 3"
    assert (out.exception.function, out.exception.line) == ("fit", 3)
    # The program's stderr shows the traceback as plain python would: no runpy, no diagkit.
    tb = run.stderr.split("ValueError: singular design")[0]
    assert 'boom.py", line 4, in <module>' in tb
    assert "runpy" not in tb and "diagkit" not in tb


def test_sys_exit_code_is_returned(tmp_path, script):
    target = script("ex.py", "import sys\nprint('bye')\nsys.exit(7)\n")
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 7
    assert run.stdout == "bye\n"
    assert run.report.outcome.kind == "exit" and run.report.outcome.exit_code == 7


def test_killed_by_sigkill_still_reports_what_was_seen(tmp_path, script):
    target = script(
        "oom.py",
        """
        import os, signal, warnings, diagkit
        import numpy as np
        with diagkit.range("before-kill"):
            big = np.ones(30_000_000)          # 240 MB, touched
        warnings.warn("about to die", RuntimeWarning)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 128 + signal.SIGKILL
    rep = run.report
    assert rep.outcome.kind == "signal" and rep.outcome.signal_name == "SIGKILL"
    assert rep.memory.peak_rss > 240e6
    assert [w.message for w in rep.numerics.warnings] == ["about to die"]
    assert [s.name for s in rep.ranges.stats] == ["before-kill"]  # rebuilt from flushed events


def test_segfault_is_reported_as_a_signal(tmp_path, script):
    target = script("segv.py", "import ctypes\nctypes.string_at(0)\n")
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 128 + signal.SIGSEGV
    assert run.report.outcome.signal_name == "SIGSEGV"
    assert "native code" in run.report.outcome.detail


def test_timeout_dumps_stacks_and_stops_the_target(tmp_path, script):
    target = script(
        "hang.py",
        """
        import threading, diagkit
        def wait_for_results():
            threading.Event().wait()
        with diagkit.range("bootstrap"):
            wait_for_results()
        """,
    )
    t = time.monotonic()
    run = run_diag(["profile", "--timeout", "1.5", str(target)], cwd=tmp_path)
    assert time.monotonic() - t < 20
    assert run.returncode == 124
    rep = run.report
    assert rep.outcome.kind == "timeout"
    frames = [f.function for th in rep.stacks.threads for f in th.frames]
    assert "wait_for_results" in frames
    # The stage it hung in is reported, though it never closed.
    (hung,) = rep.ranges.events
    assert (hung.name, hung.open) == ("bootstrap", True)
    assert hung.end_t - hung.start_t > 1.0
    assert not rep.ranges.stats
    assert "still inside bootstrap" in run.stderr
    assert "timeout after 1.5 s" in rep.stacks.reason or rep.stacks.source.startswith(
        "faulthandler"
    )


def test_ctrl_c_to_diag_still_writes_the_report(tmp_path, script):
    target = script(
        "long.py",
        """
        import time, diagkit
        with diagkit.range("first"):
            time.sleep(0.2)
        print("ready", flush=True)
        time.sleep(60)
        """,
    )
    out = tmp_path / "rep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagkit.cli", "profile", "--out", str(out), str(target)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)  # to diag only: diag passes it on to the target
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err.split("KeyboardInterrupt")[-1] or "diagkit" not in err
    rep = json.loads((out / "report.json").read_text())
    assert rep["outcome"]["kind"] == "interrupted"
    assert rep["outcome"]["exception"]["type"] == "KeyboardInterrupt"
    assert [s["name"] for s in rep["ranges"]["stats"]] == ["first"]


def test_program_sees_what_plain_python_gives_it(tmp_path, script):
    target = script(
        "env.py",
        """
        import json, os, sys
        line = sys.stdin.readline()
        print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__,
                          "file": __file__, "stdin": line, "main": sys.modules["__main__"].__file__}))
        """,
    )
    args = [str(target.name), "--flag", "a b", "-m", "x"]
    run = run_diag(["profile", *args], cwd=tmp_path, input="hello\n")
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    plain = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, input="hello\n", capture_output=True, text=True
    )
    assert got == json.loads(plain.stdout)
    assert got["argv"] == ["env.py", "--flag", "a b", "-m", "x"]
    assert got["path0"] == str(tmp_path)


def test_module_mode_runs_like_python_dash_m(tmp_path):
    pkg = tmp_path / "estpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import sys, json\nprint(json.dumps([__name__, sys.argv[1:]]))\nsys.exit(3)\n"
    )
    run = run_diag(["profile", "-m", "estpkg", "one", "--two"], cwd=tmp_path)
    assert run.returncode == 3
    assert json.loads(run.stdout) == ["__main__", ["one", "--two"]]
    assert run.report.target.kind == "module"


def test_multiprocessing_spawn_children_can_import_main(tmp_path, script):
    target = script(
        "mp.py",
        """
        import multiprocessing as mp
        def square(x):
            return x * x
        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(2) as pool:
                print(sum(pool.map(square, range(10))))
        """,
    )
    run = run_diag(["profile", str(target)], cwd=tmp_path, env={"PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "285"
    assert os.path.exists(run.out_dir / "report.json")
