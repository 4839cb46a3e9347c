"""The program's logging records and its garbage collections, seen from inside it: what it
prints stays byte for byte what it prints without diag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import run_diag

LOGGING = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("est.fit")
print("start")
log.debug("not shown")
log.info("fitting %d groups", 12)
time.sleep(0.05)
log.warning("singular matrix in group %s", "g7")
logging.getLogger("est.boot").error("bootstrap draw %d failed", 3)
print("done", file=sys.stderr)
"""

LAST_RESORT = """
import logging
logging.getLogger("lib").warning("no handler configured: python's last resort prints this")
logging.getLogger("lib").info("and drops this")
"""


def _bare(target) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(target)], capture_output=True, text=True, cwd=target.parent
    )


@pytest.mark.parametrize("code", [LOGGING, LAST_RESORT], ids=["configured", "last-resort"])
def test_logging_output_is_byte_for_byte_the_programs(tmp_path, script, code):
    target = script("logs.py", code)
    bare = _bare(target)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (run.stdout, run.stderr) == (bare.stdout, bare.stderr)


def test_records_are_kept_with_their_time_place_and_level(tmp_path, script):
    target = script("logs.py", LOGGING)
    run = run_diag(["profile", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lg = run.report.logs
    assert lg.available and lg.counts == {"INFO": 1, "WARNING": 1, "ERROR": 1}
    info, warn, err = lg.records
    assert (info.logger, info.message, info.line) == ("est.fit", "fitting 12 groups", 7)
    assert info.file == str(target) and info.thread == "MainThread"
    assert (warn.level, warn.message) == ("WARNING", "singular matrix in group g7")
    assert err.logger == "est.boot"
    # On the report's clock: after the start, 50 ms apart, within the run.
    assert 0 <= info.t < warn.t <= run.report.outcome.wall_s
    assert warn.t - info.t == pytest.approx(0.05, abs=0.03)
    summary = run.stderr.split("Log records", 1)[1]  # diag's summary, after the program's own
    assert "WARNING est.fit: singular matrix in group g7" in summary
    trace = (run.out_dir / "profile.trace.json").read_text()
    assert "WARNING est.fit: singular matrix in group g7" in trace


def test_many_records_are_counted_and_the_first_thousand_kept(tmp_path, script):
    target = script(
        "many.py",
        """
        import logging
        logging.basicConfig(level=logging.INFO, filename="app.log")
        for i in range(100_000):
            logging.info("step %d", i)
        """,
    )
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report.logs.counts == {"INFO": 100_000} and len(run.report.logs.records) == 1000
    assert run.report.logs.records[-1].message == "step 999"
    assert (tmp_path / "app.log").read_text().count("\n") == 100_000  # the program's file whole


def test_the_log_level_is_chosen_and_checked(tmp_path, script):
    target = script("logs.py", LOGGING)
    run = run_diag(["profile", "-q", "--log-level", "warning", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report.logs.counts == {"WARNING": 1, "ERROR": 1}
    bad = run_diag(["profile", "-q", "--log-level", "loud", str(target)], cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--log-level" in bad.stderr


CHURN = """
import time
class Node:
    def __init__(self, i):
        self.i, self.peer = i, None
keep = []
t = time.perf_counter()
while time.perf_counter() - t < 1.0:
    for i in range(20_000):
        a, b = Node(i), Node(i)
        a.peer, b.peer = b, a
        keep.append(a)
"""


def test_garbage_collection_is_counted_per_generation_and_found_when_it_costs(tmp_path, script):
    target = script("churn.py", CHURN)
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    g = run.report.gc
    assert g.available and g.collections[0] > 100 and g.collections[2] >= 1
    assert 0 < g.total_pause_s < run.report.outcome.wall_s
    assert g.total_pause_s == pytest.approx(sum(g.pause_s))
    found = [f for f in run.report.findings if f.kind == "gc-pauses"]
    assert found and "garbage collection paused the program" in found[0].message
    plain = script(
        "plain.py",
        "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 0.5: pass\n",
    )
    quiet = run_diag(["profile", "-q", str(plain)], cwd=tmp_path, out=tmp_path / "r2")
    assert quiet.report.gc.available and quiet.report.gc.total_pause_s < 0.01
    assert "gc-pauses" not in [f.kind for f in quiet.report.findings]
