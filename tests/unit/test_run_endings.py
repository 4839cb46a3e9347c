"""How diag reads the end of a watch on a process it attached to, and the loop that watches
a run (the wait statuses of real processes are in tests/integration/test_run_endings.py)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from diagkit.collectors.rss import RssSampler
from diagkit.run import endings
from diagkit.run.endings import Detach


def test_an_exit_diag_could_not_read_is_said_to_be_unknown():
    out = endings.attached_outcome(42, Detach(why="exited"), 2.0, (0, 0))
    assert (out.kind, out.exit_code) == ("exit", None)
    assert out.detail == "exited (status unknown: not our child)"


@pytest.mark.parametrize(
    ("end", "detail", "code", "told"),
    [
        (Detach(why="duration"), "detached after --duration; pid 42 is still running", 0, ""),
        (
            Detach(why="signal", signal=signal.SIGINT),
            "detached at Ctrl-C; pid 42 is still running",
            0,
            "SIGINT",
        ),
        (
            Detach(why="signal", signal=signal.SIGHUP),
            "detached when diag received SIGHUP; pid 42 is still running",
            129,
            "SIGHUP",
        ),
    ],
)
def test_detaching_leaves_the_process_running_and_says_why(end, detail, code, told):
    end.cpu = (3.0, 1.0)
    out = endings.attached_outcome(42, end, 2.0, (1.0, 0.5))
    assert (out.kind, out.detail, out.diag_exit_code, out.diag_signal) == (
        "detached",
        detail,
        code,
        told,
    )
    assert (out.cpu_user_s, out.cpu_system_s) == (2.0, 0.5)


def test_ticks_report_progress_until_the_end_comes():
    ended = threading.Event()
    seen: list[float] = []
    rss = RssSampler(os.getpid(), 0)  # not started: no points, RSS 0
    ticks = endings.Ticks(ended.wait, rss, lambda t, mem: seen.append(t))
    count = 0
    for elapsed in ticks:
        count += 1
        assert elapsed == pytest.approx(seen[-1])
        if count == 3:
            ended.set()
    assert count == 3 and seen == sorted(seen) and seen[0] >= endings.POLL_S * 0.9
