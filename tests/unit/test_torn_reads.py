"""Reads that came back cut short (``torn_reads``), through the timeline, on event lists built
the way py-spy writes them (``test_time_weighted.py_spy_events``)."""

from __future__ import annotations

import pytest

from diagkit.collectors.time_weighted import Timeline
from diagkit.collectors.torn_reads import MAX_RUN, mend_torn_reads
from tests.unit.test_time_weighted import LIB, _fn, _shares, _thread, py_spy_events

NUMBA = "/site-packages/numba/core/typeinfer.py"
MAIN = [_thread(100, "MainThread"), _fn("<module>", 1), _fn("main", 3)]


def _compile_then_steady(torn_every: int):
    """compile() for 1 s of 4 ms samples, one in ``torn_every`` cut down to its innermost
    frame; then steady() for 1 s. The truth: 50/50."""
    samples = []
    for i in range(250):
        deep = [*MAIN, _fn("compile", 7), _fn("infer", 10 + i % 3, NUMBA)]
        cut = torn_every and i % torn_every == torn_every - 1
        samples.append((i * 4000, 7, 1, [MAIN[0], deep[-1]] if cut else deep))
    for i in range(250):
        samples.append((1_000_000 + i * 4000, 7, 1, [*MAIN, _fn("steady", 20 + i % 2)]))
    return py_spy_events(samples, 2_000_000)


def test_cut_short_samples_give_their_time_back_to_the_compile_they_were_part_of():
    tl = Timeline(rate=250)
    tl.add_chunk(_compile_then_steady(torn_every=4), origin_s=0.0)
    doc = tl.speedscope("py-spy@0.4.3")
    sec, f = _shares(doc, 250)
    assert tl.torn == 62  # one sample in four of 250
    assert f["compile"].total_share == pytest.approx(0.5, abs=0.005)
    assert f["steady"].total_share == pytest.approx(0.5, abs=0.005)
    # Every stack has its caller again (counted as read, 1/8 of the run would have none).
    assert f["<module>"].total_share == pytest.approx(1.0)
    assert sec.samples == 500


def _timeline(samples, close_us=1_000_000):
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events(samples, close_us), origin_s=0.0)
    return tl, tl.speedscope("x")


def test_a_thread_whose_entry_changes_for_good_is_left_as_it_is():
    """The program ends and an atexit function runs with no caller: one sample and the end,
    no return to ``<module>``; it is work of its own."""
    samples = [(k * 10_000, 7, 1, [*MAIN, _fn("work", 5 + k % 2)]) for k in range(50)]
    samples.append((500_000, 7, 1, [MAIN[0], _fn("_flush", 40, LIB)]))
    tl, doc = _timeline(samples, 600_000)
    _, f = _shares(doc, 100)
    assert tl.torn == 0
    assert f["_flush"].total_s == pytest.approx(0.1)


def test_a_deeper_stack_under_another_entry_is_no_cut_short_read():
    """A callback C code calls between two samples of the main loop has a root of its own,
    but a read that stopped early cannot have more frames than the stacks it was cut from."""
    cb = [MAIN[0], _fn("callback", 3), _fn("a", 4), _fn("b", 5), _fn("c", 6)]
    samples = [
        (0, 7, 1, [*MAIN, _fn("loop", 9)]),
        (100_000, 7, 1, cb),
        (200_000, 7, 1, [*MAIN, _fn("loop", 10)]),
    ]
    tl, doc = _timeline(samples, 300_000)
    _, f = _shares(doc, 100)
    assert tl.torn == 0 and f["callback"].total_s == pytest.approx(0.1)


def test_a_run_longer_than_a_few_samples_is_kept():
    long = [(k * 10_000, 7, 1, [MAIN[0], _fn("other", 40 + k)]) for k in range(1, MAX_RUN + 2)]
    samples = [(0, 7, 1, [*MAIN, _fn("loop", 9)]), *long]
    samples.append(((MAX_RUN + 2) * 10_000, 7, 1, [*MAIN, _fn("loop", 10)]))
    tl, doc = _timeline(samples, (MAX_RUN + 3) * 10_000)
    _, f = _shares(doc, 100)
    assert tl.torn == 0 and f["other"].total_s == pytest.approx((MAX_RUN + 1) * 0.01)


def test_a_tear_in_the_middle_of_one_stack_leaves_one_sample():
    frames = [("<module>", "/p.py", 1), ("f", "/p.py", 2), ("g", "/p.py", 3)]
    stacks = [(0, 1, 2), (2,), (0, 1, 2), (0, 1)]
    weights, slots = [0.1, 0.02, 0.1, 0.05], [10, 2, 10, 5]
    assert mend_torn_reads(stacks, weights, slots, frames) == 1
    assert stacks == [(0, 1, 2), (0, 1)]
    assert weights == pytest.approx([0.22, 0.05]) and slots == [22, 5]
