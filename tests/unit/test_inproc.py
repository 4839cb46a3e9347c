"""In-process pieces on their own: the event stream parser, range recorder and warning replay."""

from __future__ import annotations

import warnings

import pytest

from diagkit.collectors.inproc_results import parse_events
from diagkit.target.channel import Channel, read_events
from diagkit.target.ranges import RangeRecorder
from diagkit.target.warnings_counter import WarningCounter


def test_a_torn_last_line_is_skipped(tmp_path):
    ch = Channel(str(tmp_path))
    ch.emit("start", t=1_000_000_000)
    ch.emit("warning", t=1_500_000_000, category="UserWarning", message="m", file="f.py", line=3)
    ch.close()
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write('{"k": "compile", "t": 12')  # the process died mid-write
    events = read_events(str(tmp_path))
    assert [e["k"] for e in events] == ["start", "warning"]
    res = parse_events(events, 1_000_000_000)
    (w,) = res.numerics.warnings
    assert (w.count, w.first_t) == (1, 0.5)
    assert "lower bound" in res.numerics.unavailable_reason


def test_range_recorder_stats_and_cap(tmp_path, monkeypatch):
    import diagkit.target.ranges as ranges

    monkeypatch.setattr(ranges, "MAX_EVENTS", 3)
    ch = Channel(str(tmp_path))
    rec = RangeRecorder(ch)
    for _ in range(5):
        rec.push("r")
        rec.pop("r")
    rec.finish()
    ch.close()
    res = parse_events(read_events(str(tmp_path)), 0)
    assert len(res.ranges.events) == 3 and res.ranges.events_dropped == 2
    (st,) = res.ranges.stats
    assert st.count == 5 and st.min_s <= st.mean_s <= st.max_s


@pytest.fixture
def counter(tmp_path):
    with warnings.catch_warnings():
        warnings.resetwarnings()
        ch = Channel(str(tmp_path))
        wc = WarningCounter(ch)
        shown: list[str] = []
        wc._orig_showwarnmsg = lambda msg: shown.append(str(msg.message))
        yield wc, shown
        ch.close()


def _emit(text: str, n: int, category: type[Warning] = UserWarning) -> None:
    for _ in range(n):
        warnings.warn(text, category, stacklevel=1)  # one location: same line every time


def test_replay_of_once_ignore_always(counter):
    wc, shown = counter
    warnings.simplefilter("once")
    warnings.filterwarnings("ignore", message="skip")
    warnings.filterwarnings("always", message="loud")
    wc.install()
    _emit("a", 4)
    _emit("skip", 2)
    _emit("loud", 3)
    assert shown == ["a", "loud", "loud", "loud"]
    assert {k[1]: v[0] for k, v in wc._counts.items()} == {"a": 4, "skip": 2, "loud": 3}


def test_replay_of_error_raises_the_warning(counter):
    wc, _ = counter
    warnings.simplefilter("error")
    wc.install()
    with pytest.raises(UserWarning, match="boom"):
        warnings.warn("boom", UserWarning, stacklevel=1)
