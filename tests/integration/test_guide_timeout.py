"""The guide's "A hung bootstrap": a ``--timeout`` report says first where each thread was at
the deadline and whether it moved, before any share of sampled time."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, run_diag
from tests.integration.browser import Browser, find_chromium

WIDE = {"COLUMNS": "200"}  # one lead line per thread, unwrapped
# diag profile writes its summary to stderr: stdout is the program's.

STUCK = """\
import threading

lock = threading.Lock()
lock.acquire()


def wait_forever():
    lock.acquire()


wait_forever()
"""

BUSY = """\
def spin():
    n = 0
    while True: n += 1


spin()
"""


def _lead(text: str) -> list[str]:
    """The lines under "At the timeout", up to the first blank line."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("At the timeout"))
    lead = []
    for ln in lines[start + 1 :]:
        if not ln.strip():
            break
        lead.append(ln.strip())
    return lead


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("busy")
    (folder / "busy.py").write_text(BUSY)
    return run_diag(["profile", "--timeout", "2", "busy.py"], cwd=folder, env=WIDE)


def test_a_thread_waiting_on_a_lock_is_named_stuck_on_its_line(script, tmp_path):
    script("stuck.py", STUCK)
    r = run_diag(["profile", "--timeout", "2", "stuck.py"], cwd=tmp_path, env=WIDE)
    assert r.returncode == 124, r.stderr
    assert _lead(r.stderr) == [
        f"MainThread stuck in wait_forever stuck.py:8 (same stack for {_span(r)}, no CPU)"
    ]
    # The lead comes before the time section and the stacks it summarises.
    assert r.stderr.index("At the timeout") < r.stderr.index("\nTime") < r.stderr.index("Stacks")
    (th,) = r.report.stacks.threads
    assert th.verdict == "stuck" and th.cpu_share is not None and th.cpu_share < 0.02
    assert th.own_frame is not None and (th.own_frame.function, th.own_frame.line) == (
        "wait_forever",
        8,
    )
    assert 0.3 < r.report.stacks.compared_s < 1.5
    # The guide shows this very run's lead.
    guide = (ROOT / "docs/guide.md").read_text().split("### A hung bootstrap", 1)[1]
    shown = _lead(guide.split("```text\n", 1)[1].split("```", 1)[0])
    assert [ln.replace(_span(r), "0.5 s") for ln in _lead(r.stderr)] == shown


def test_a_spinning_thread_is_named_busy_before_the_hottest_function(busy_run):
    r = busy_run
    assert r.returncode == 124, r.stderr
    (line,) = _lead(r.stderr)
    assert line.startswith(f"MainThread busy in spin busy.py:3 (same stack for {_span(r)}, ")
    assert line.endswith(" of a core)")
    # The hottest function's row (spin, own share 100%) comes only after the lead.
    hottest = next(ln for ln in r.stderr.splitlines() if "spin busy.py" in ln and "%" in ln)
    assert r.stderr.index("At the timeout") < r.stderr.index(hottest)
    (th,) = r.report.stacks.threads
    assert th.verdict == "busy" and th.cpu_share is not None and th.cpu_share > 0.02
    # Re-rendered from the saved report, the lead is the same.
    again = run_diag(["report", str(r.out_dir)], cwd=r.out_dir.parent, env=WIDE)
    assert _lead(again.stdout) == [line]


def test_the_page_leads_with_the_same_lines(busy_run):
    exe = find_chromium()
    if exe is None:
        pytest.skip("no Chromium: install Debian's `chromium` package to check the page")
    b = Browser(exe)
    try:
        b.open(busy_run.out_dir / "report.html")
        assert b.problems() == []
        items = b.eval("[...document.querySelectorAll('#timeout-lead li')].map(e => e.textContent)")
        first = b.eval("document.querySelector('#summary').firstElementChild.id")
    finally:
        b.close()
    assert items == _lead(busy_run.stderr)
    assert first == "timeout-lead"  # before the cards, "Hottest function" among them


def _span(r) -> str:
    return f"{r.report.stacks.compared_s:.1f} s"
