"""``with diagkit.profile() as run``: a real Python process sampled from outside by py-spy for
a block, its own recorders put in and taken out, and nothing of it left changed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from diagkit.model.report import Report

API = """
import gc, json, logging, os, sys, threading, time, warnings
import numpy as np
import psutil
import diagkit

def hot(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1

def cool(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def state():
    return {
        "gc": len(gc.callbacks),
        "handle": logging.Logger.handle.__qualname__,
        "filters": len(warnings.filters),
        "showwarning": warnings._showwarnmsg.__qualname__,
        "recorder": repr(diagkit._runtime.recorder),
        "threads": sorted(t.name for t in threading.enumerate()),
        "meta_path": len(sys.meta_path),
    }

logging.basicConfig(level=logging.INFO, stream=sys.stdout)
before = state()
with diagkit.profile(out=sys.argv[1]) as run:
    with diagkit.range("fit"):
        hot(0.6)
    with diagkit.range("boot"):
        cool(0.2)
    np.log(np.zeros(2))
    logging.getLogger("est").warning("first pass done")
after = state()
kids = [p.pid for p in psutil.Process().children(recursive=True)]
saved = diagkit.load_report(sys.argv[1])
json.dump({"before": before, "after": after, "kids": kids, "samples": saved.time.samples,
           "same": saved.time.samples == run.report.time.samples}, open(sys.argv[2], "w"))
"""


def _run(tmp_path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "prog.py"
    path.write_text(code)
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_a_block_is_sampled_from_outside_with_its_stages_warnings_and_logs(tmp_path):
    out, facts = tmp_path / "rep", tmp_path / "facts.json"
    done = _run(tmp_path, API, str(out), str(facts))
    assert done.returncode == 0, done.stderr
    seen = json.loads(facts.read_text())
    report = Report.from_json((out / "report.json").read_text())
    fn = {f.name: f for f in report.time.functions}
    # 0.6 s against 0.2 s of the same loop: 75% and 25% of the block's work.
    assert fn["hot"].own_share == pytest.approx(0.75, abs=0.08)
    assert fn["cool"].own_share == pytest.approx(0.25, abs=0.08)
    assert not any(f.file.endswith("self_profile.py") for f in report.time.functions)
    assert "from inside" in report.time.source and report.outcome.kind == "detached"
    stages = {s.name: s for s in report.ranges.stats}
    assert stages["fit"].total_s == pytest.approx(0.6, abs=0.05)
    assert stages["boot"].total_s == pytest.approx(0.2, abs=0.05)
    (w,) = report.numerics.warnings
    assert (w.category, w.line) == (
        "RuntimeWarning",
        API.splitlines().index("    np.log(np.zeros(2))") + 1,
    )
    assert report.logs.counts == {"WARNING": 1}
    assert "first pass done" in done.stdout  # the program's own handler still printed it
    assert (out / "report.html").exists() and seen["same"]
    # Nothing of diag's is left in the process: recorders, threads, children.
    assert seen["after"] == seen["before"] and seen["kids"] == []


RAISES = """
import sys, diagkit
try:
    with diagkit.profile(out=sys.argv[1]) as run:
        sum(range(10**6))
        raise KeyError("the block's own")
except KeyError as exc:
    print("caught", exc, run.problem == "", run.report is not None)
"""


def test_the_blocks_own_exception_goes_through_and_the_report_is_still_kept(tmp_path):
    done = _run(tmp_path, RAISES, str(tmp_path / "rep"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'caught "the block\'s own" True True'
    assert (tmp_path / "rep" / "report.json").exists()


IGNORING = """
import signal, sys, time
# What a program started with `&` in a shell script inherits.
signal.signal(signal.SIGINT, signal.SIG_IGN)
import diagkit
t0 = time.monotonic()
with diagkit.profile(out=sys.argv[1]) as run:
    sum(range(10**6))
print(run.problem or "ok", round(time.monotonic() - t0, 1), signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
"""


def test_a_process_that_ignores_sigint_still_ends_its_window_at_once(tmp_path):
    """The window's end is a SIGINT to diag's watcher, which inherits the ignoring."""
    done = _run(tmp_path, IGNORING, str(tmp_path / "rep"))
    assert done.returncode == 0, done.stderr
    said, seconds, handler = done.stdout.split()
    assert said == "ok" and float(seconds) < 10, done.stdout  # not the stop's timeout
    assert handler == "True"  # the program's own choice is left as it was
    assert (tmp_path / "rep" / "report.json").exists()


BAD = """
import sys, diagkit
from diagkit.errors import DiagError
for kwargs in ({"rate": 0}, {"log_level": "LOUD"}, {"out": sys.argv[1]}):
    try:
        diagkit.profile(**kwargs)
    except DiagError as exc:
        print(str(exc))
try:
    diagkit.load_report(sys.argv[1])
except DiagError as exc:
    print(str(exc))
"""


def test_wrong_options_and_paths_are_one_line_errors(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    done = _run(tmp_path, BAD, str(a_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("rate must be a whole number")
    assert lines[1].startswith("log_level must be one of DEBUG")
    assert lines[2] == f"out={a_file}: exists and is not a directory"
    assert lines[3].startswith(f"{a_file}: not a diag report")
