"""``diag report --html`` on a saved folder: the page comes from report.json alone, the same
page the run wrote, after the program and the samples beside the report are gone."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_diag

PROGRAM = """
import time

def inner(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

def work():
    t = time.monotonic()
    while time.monotonic() - t < 0.6:
        inner(5000)

work()
"""


def _page_data(folder: Path) -> dict:
    page = (folder / "report.html").read_text(encoding="utf-8")
    return json.loads(page.split('id="diag-data">')[1].split("</script>")[0])


def test_the_page_of_a_saved_report_needs_nothing_but_report_json(tmp_path, script):
    target = script("busy.py", PROGRAM)
    out = tmp_path / "rep"
    run = run_diag(["profile", "-q", str(target)], cwd=tmp_path, out=out)
    assert run.returncode == 0, run.stderr
    written = _page_data(out)
    assert written["page"]["flame"]["total"] > 0
    listed = {s["function"]: s["lines"] for s in written["page"]["sources"]}
    # The source around the hot lines, not only the sampled lines themselves.
    assert any(row[2] == 0 for row in listed["inner"] if row is not None)
    target.unlink()
    (out / "profile.speedscope.json").unlink()
    (out / "report.html").unlink()
    again = run_diag(["report", "--html", str(out)], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _page_data(out) == written


def test_a_report_saved_before_the_flame_graph_was_kept_still_makes_a_page(tmp_path, script):
    target = script("busy.py", PROGRAM)
    out = tmp_path / "rep"
    assert run_diag(["profile", "-q", str(target)], cwd=tmp_path, out=out).returncode == 0
    raw = json.loads((out / "report.json").read_text())
    raw["schema_version"] = "1.1"
    del raw["time"]["flame"], raw["time"]["sources"]
    (out / "report.json").write_text(json.dumps(raw))
    (out / "report.html").unlink()
    again = run_diag(["report", "--html", str(out)], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    page = _page_data(out)["page"]
    assert page["flame"] is None and "kept no flame graph" in page["flame_note"]
    assert page["sources"] and page["sources_note"]
