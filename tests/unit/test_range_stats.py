"""``diagkit.range`` statistics: count, total, mean, min and max of every range, exact, dropped
events included.

Past MAX_EVENTS single events are no longer kept, but every range still counts in its
statistics: the mean is the total over all of them, not over the kept ones.
"""

from __future__ import annotations

import types

import pytest

from diagkit.collectors.inproc_results import parse_events
from diagkit.target import ranges
from diagkit.target.channel import Channel, read_events
from diagkit.target.ranges import MAX_EVENTS, RangeRecorder


class Clock:
    """time.monotonic_ns as the recorder sees it: moved by the test, never by the machine."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def monotonic_ns(self) -> int:
        return self.ns


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ranges, "time", types.SimpleNamespace(monotonic_ns=clock.monotonic_ns))
    return clock


def _timed(rec: RangeRecorder, clock: Clock, name: str, ns: int) -> None:
    rec.push(name)
    clock.ns += ns
    rec.pop(name)
    clock.ns += 7  # between ranges: counted in none


def test_the_mean_is_over_every_range_the_kept_and_the_dropped(tmp_path, clock):
    ch = Channel(str(tmp_path))
    rec = RangeRecorder(ch)
    for _ in range(MAX_EVENTS):
        _timed(rec, clock, "step", 1_000)
    for _ in range(100):  # past the cap: not kept as events, still in the statistics
        _timed(rec, clock, "step", 1_000_000)
    _timed(rec, clock, "load", 3_000)  # a range first seen past the cap has statistics too
    _timed(rec, clock, "load", 6_000)
    rec.finish()
    ch.close()
    res = parse_events(read_events(str(tmp_path)), 0)
    assert len(res.ranges.events) == MAX_EVENTS and res.ranges.events_dropped == 102
    stats = {s.name: s for s in res.ranges.stats}
    step = stats["step"]
    assert step.count == MAX_EVENTS + 100
    assert step.total_s == pytest.approx((MAX_EVENTS * 1_000 + 100 * 1_000_000) / 1e9, rel=1e-12)
    # 120 ms over 20,100 ranges; the kept events alone would say 1 µs.
    assert step.mean_s == pytest.approx(0.12 / 20_100, rel=1e-12)
    assert (step.min_s, step.max_s) == (pytest.approx(1e-6), pytest.approx(1e-3))
    load = stats["load"]
    assert (load.count, load.total_s, load.mean_s) == (
        2,
        pytest.approx(9e-6, rel=1e-12),
        pytest.approx(4.5e-6, rel=1e-12),
    )
    assert [s.name for s in res.ranges.stats] == ["step", "load"]  # by total, largest first


def test_a_run_that_crashed_gets_its_statistics_from_the_events_it_left(tmp_path, clock):
    ch = Channel(str(tmp_path))
    rec = RangeRecorder(ch)
    for ns in (1_000_000_000, 2_000_000_000, 4_000_000_000):
        _timed(rec, clock, "fit", ns)
    rec.push("fit")  # open when the program died: no whole-run statistics were written
    ch.close()
    res = parse_events(read_events(str(tmp_path)), 0)
    (fit,) = res.ranges.stats
    # From seconds since the start and back: exact to float rounding.
    assert (fit.count, fit.total_s, fit.mean_s) == (3, pytest.approx(7.0), pytest.approx(7 / 3))
    assert (fit.min_s, fit.max_s) == (pytest.approx(1.0), pytest.approx(4.0))
