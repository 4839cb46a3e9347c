"""py-spy's chrometrace events -> the time-weighted speedscope timeline, on event lists built
the way py-spy's chrometrace.rs writes them, for samples whose right answer is known."""

from __future__ import annotations

import json

import pytest

from diagkit.collectors.sampled_time import section_from_sampler, time_section
from diagkit.collectors.sampler import SamplerResult
from diagkit.collectors.thread_ends import ThreadEnds
from diagkit.collectors.time_weighted import Timeline, load_events
from diagkit.errors import DiagError
from diagkit.run.sampling import CHUNK_S, chunk_seconds

PROG = "/u/prog.py"
LIB = "/usr/lib/python3.11/threading.py"


def _thread(native: int, name: str) -> tuple[str, str, int]:
    return (f"thread ({native}): {name}", "", 0)


def _fn(name: str, line: int, file: str = PROG) -> tuple[str, str, int]:
    return (name, file, line)


def py_spy_events(samples, close_us):
    """What py-spy writes for its successful samples ``[(µs, pid, tid, frames root first)]``:
    per thread id (whatever the process), E for each frame that left (innermost first), B for
    each that came (outermost first); at the end an E at ``close_us`` for every open frame."""
    held: dict[int, tuple[int, list]] = {}
    out = []

    def ev(ph, frame, ts, pid, tid):
        name, file, line = frame
        args = {"filename": file, "line": line}
        return {
            "args": args,
            "cat": "py-spy",
            "name": name,
            "ph": ph,
            "pid": pid,
            "tid": tid,
            "ts": ts,
        }

    for ts, pid, tid, frames in samples:
        old = held.get(tid, (pid, []))[1]
        same = 0
        while same < min(len(old), len(frames)) and old[same] == frames[same]:
            same += 1
        out += [ev("E", f, ts, pid, tid) for f in reversed(old[same:])]
        out += [ev("B", f, ts, pid, tid) for f in frames[same:]]
        held[tid] = (pid, list(frames))
    for tid, (pid, frames) in held.items():
        out += [ev("E", f, close_us, pid, tid) for f in reversed(frames)]
    return out


def _shares(doc, rate):
    sec = time_section(doc, rate=rate, sampled_s=0.0, source="t")
    return sec, {f.name: f for f in sec.functions}


def test_time_weighting_undoes_what_failed_reads_do_to_counts():
    """fast() runs 1 s and every read succeeds (400 samples); slow() runs 1 s but three reads
    in four fail (100 samples). Counted: 80/20. Timed: the truth, 50/50."""
    main = [_thread(100, "MainThread"), _fn("<module>", 1)]
    samples = []
    for i in range(400):  # 2.5 ms apart; the line alternates, so every sample is a change
        samples.append((i * 2500, 7, 1, [*main, _fn("fast", 10 + i % 2)]))
    for i in range(100):  # 10 ms apart
        samples.append((1_000_000 + i * 10_000, 7, 1, [*main, _fn("slow", 20 + i % 2)]))
    counted = sum(1 for *_, fr in samples if fr[-1][0] == "fast") / len(samples)
    assert counted == pytest.approx(0.8)  # what a program that counts samples would say
    tl = Timeline(rate=400)
    tl.add_chunk(py_spy_events(samples, 2_000_000), origin_s=0.0)
    sec, f = _shares(tl.speedscope("py-spy@0.4.3"), 400)
    assert f["fast"].total_share == pytest.approx(0.5, abs=0.01)
    assert f["slow"].total_share == pytest.approx(0.5, abs=0.01)
    assert f["slow"].total_s == pytest.approx(1.0, abs=0.01)
    # Counts are of sampling intervals: slow's 100 samples of 10 ms stand for 400 of 2.5 ms.
    assert f["fast"].total_samples == 400 and f["slow"].total_samples == 400
    assert sec.samples == 800


def test_unchanged_stacks_are_one_sample_and_nested_frames_come_whole():
    outer = [_thread(100, "MainThread"), _fn("<module>", 1), _fn("fit", 5), _fn("step", 9)]
    samples = [(0, 7, 1, outer), (500_000, 7, 1, [*outer[:3], _fn("dot", 3, LIB)])]
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events(samples, 800_000), origin_s=10.0)
    doc = tl.speedscope("py-spy@0.4.3")
    (prof,) = doc["profiles"]
    names = [[doc["shared"]["frames"][i]["name"] for i in s] for s in prof["samples"]]
    # The thread frame is a name, not a function; the rest of each stack is kept in order.
    assert names == [["<module>", "fit", "step"], ["<module>", "fit", "dot"]]
    assert prof["weights"] == pytest.approx([0.5, 0.3])
    assert prof["slots"] == [50, 30]
    assert prof["name"] == 'Thread 100 "MainThread"'
    assert prof["endValue"] == pytest.approx(0.8)
    assert tl.chunks[0].first_s == pytest.approx(10.0) and tl.chunks[0].close_s == pytest.approx(
        10.8
    )
    json.dumps(doc)  # a plain speedscope file


def test_two_threads_are_two_profiles():
    main = [_thread(100, "MainThread"), _fn("<module>", 1)]
    work = [_thread(101, "worker"), _fn("Thread.run", 9, LIB), _fn("loop", 4)]
    samples = [(0, 7, 1, main), (10, 7, 2, work), (600_000, 7, 2, [*work[:2], _fn("tail", 8)])]
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events(samples, 1_000_000), origin_s=0.0)
    doc = tl.speedscope("py-spy@0.4.3")
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert set(by_name) == {'Thread 100 "MainThread"', 'Thread 101 "worker"'}
    assert sum(by_name['Thread 100 "MainThread"']["weights"]) == pytest.approx(1.0)
    assert by_name['Thread 101 "worker"']["weights"] == pytest.approx([0.59999, 0.4])


def test_a_thread_that_ended_keeps_its_last_stack_only_until_its_end():
    """py-spy leaves the worker's last stack open until it writes the file, 2 s later."""
    main = [_thread(100, "MainThread"), _fn("main_work", 1)]
    work = [_thread(101, "worker"), _fn("worker", 4)]
    samples = [(0, 7, 1, main), (0, 7, 2, work)]
    ends = ThreadEnds()
    for k in range(40):  # polls every 20 ms from 5.0 s: the worker is listed until 5.5 s
        t = 5.0 + k * 0.02
        ends.saw([100, 101] if k <= 25 else [100], t)
    events = py_spy_events(samples, 2_500_000)
    unclipped = Timeline(rate=250)
    unclipped.add_chunk(events, origin_s=5.0)
    _, f = _shares(unclipped.speedscope("x"), 250)
    assert f["worker"].total_share == pytest.approx(0.5)  # what clipping is for
    tl = Timeline(rate=250)
    tl.add_chunk(events, origin_s=5.0, end_of=ends.end_after)
    _, f = _shares(tl.speedscope("x"), 250)
    assert f["worker"].total_s == pytest.approx(0.51, abs=0.001)  # midway between 5.50 and 5.52
    assert f["main_work"].total_s == pytest.approx(2.5)


def test_thread_ends_know_a_thread_no_poll_ever_listed():
    ends = ThreadEnds()
    assert ends.end_after(5, 1.0) is None  # no poll yet: not known to have ended
    ends.saw([1, 2], 1.00)
    ends.saw([1], 1.02)
    assert ends.end_after(2, 0.5) == pytest.approx(1.01)
    assert ends.end_after(9, 1.005) == pytest.approx(1.0125)  # sampled at 1.005, unlisted at 1.02
    assert ends.end_after(1, 0.5) is None  # still alive at the last poll


def test_a_pthread_id_taken_over_by_a_new_thread_ends_the_old_one():
    old = [_thread(101, "a"), _fn("first", 1)]
    new = [_thread(102, "b"), _fn("second", 2)]
    samples = [(0, 7, 9, old), (300_000, 7, 9, new)]
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events(samples, 1_000_000), origin_s=0.0)
    doc = tl.speedscope("x")
    w = {p["name"]: sum(p["weights"]) for p in doc["profiles"]}
    assert w == pytest.approx({'Thread 101 "a"': 0.3, 'Thread 102 "b"': 0.7})


def test_two_processes_with_the_same_thread_id_are_timed_apart():
    """Forked workers share the parent's pthread id: py-spy diffs each process's stack against
    the other's, so their events alternate on one id a few µs apart each round."""
    samples = []
    for i in range(100):
        ts = i * 4000
        samples.append(
            (
                ts,
                11,
                5,
                [('process 11:"python a"', "", 0), _thread(11, "MainThread"), _fn("parent", 1)],
            )
        )
        samples.append(
            (
                ts + 3,
                12,
                5,
                [('process 12:"python b"', "", 0), _thread(12, "MainThread"), _fn("child", 2)],
            )
        )
    tl = Timeline(rate=250, subprocesses=True)
    tl.add_chunk(py_spy_events(samples, 400_000), origin_s=0.0)
    doc = tl.speedscope("x")
    w = {p["name"]: sum(p["weights"]) for p in doc["profiles"]}
    assert w == pytest.approx(
        {'Process 11 Thread 11 "MainThread"': 0.4, 'Process 12 Thread 12 "MainThread"': 0.4},
        abs=1e-4,
    )
    assert all(len(p["samples"]) == 1 for p in doc["profiles"])  # each round merged into one
    frames = doc["shared"]["frames"]
    roots = {frames[p["samples"][0][0]]["name"] for p in doc["profiles"]}
    assert roots == {'process 11:"python a"', 'process 12:"python b"'}  # the groups stay


def test_chunks_merge_into_one_timeline_and_their_seam_is_measured():
    stack = [_thread(100, "MainThread"), _fn("loop", 3)]
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events([(1000, 7, 1, stack)], 1_001_000), origin_s=0.0)
    tl.add_chunk(py_spy_events([(20_000, 7, 1, stack)], 1_020_000), origin_s=1.002)
    tl.add_chunk(
        py_spy_events([(15_000, 7, 1, [*stack[:1], _fn("end", 4)])], 515_000), origin_s=2.04
    )
    doc = tl.speedscope("x")
    (prof,) = doc["profiles"]
    assert len(prof["samples"]) == 2  # loop's samples across the seam are one
    assert prof["weights"] == pytest.approx([2.0, 0.5])
    assert prof["slots"] == [200, 50]
    assert [c.first_s for c in tl.chunks] == pytest.approx([0.001, 1.022, 2.055])
    assert tl.seams_s == pytest.approx((1.022 - 1.001) + (2.055 - 2.022))


def test_an_empty_or_cut_short_file_keeps_what_is_whole(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert load_events(empty) == ([], False)
    assert load_events(tmp_path / "missing.json") == ([], False)
    tl = Timeline(rate=100)
    tl.add_chunk([], origin_s=0.0)
    assert tl.chunks == [] and tl.speedscope("x")["profiles"] == []

    stack = [_thread(100, "MainThread"), _fn("a", 1)]
    events = py_spy_events([(0, 7, 1, stack), (400_000, 7, 1, [stack[0], _fn("b", 2)])], 900_000)
    text = json.dumps(events, separators=(",", ":"))
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.rindex('{"args"', 0, len(text) - 10) + 25])  # mid-event
    kept, whole = load_events(cut)
    assert not whole and 0 < len(kept) < len(events) and kept == events[: len(kept)]
    tl.add_chunk(kept, origin_s=0.0)
    w = {tuple(p["samples"][0]): p["weights"] for p in tl.speedscope("x")["profiles"]}
    (weights,) = w.values()
    assert weights[0] == pytest.approx(0.4)  # stacks still open end at the last event


def test_the_source_line_says_nonblocking_time_weighted_and_the_failed_reads(tmp_path):
    main = [_thread(100, "MainThread"), _fn("<module>", 1)]
    tl = Timeline(rate=250)
    tl.add_chunk(py_spy_events([(0, 7, 1, main)], 2_048_000), origin_s=0.0)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(tl.speedscope("py-spy@0.4.3")))
    sampled = SamplerResult(
        True, "", path, 481, 31, nonblocking=True, chunks=3, seams_s=0.04, reads=512
    )
    sec = section_from_sampler(
        sampled, rate=250, native=False, idle=False, wall=2.1, nonblocking=True
    )
    assert sec.source.startswith(
        "py-spy 0.4.3 record, nonblocking 250 Hz, time-weighted, 31 of 512 reads failed"
    )
    assert "3 chunks" in sec.source
    assert (sec.nonblocking, sec.sample_errors, sec.sample_reads) == (True, 31, 512)
    assert (sec.chunks, sec.seams_s) == (3, 0.04)
    assert sec.samples == 512 and sec.flame is not None
    # The graph counts microseconds of the same 512 samples' time, as the tables weigh it.
    assert sec.flame.per_second == 1e6 and sec.flame.total == 512 * 4000


def test_waiting_threads_leave_the_flame_graph_as_they_leave_the_tables(tmp_path):
    """py-spy --idle samples every thread: a waiter's time must not fill the flame graph."""
    main = [_thread(100, "MainThread"), _fn("crunch", 1)]
    waiter = [_thread(101, "w"), _fn("Thread.run", 9, LIB), _fn("Condition.wait", 320, LIB)]
    tl = Timeline(rate=100)
    tl.add_chunk(py_spy_events([(0, 7, 1, main), (0, 7, 2, waiter)], 1_000_000), origin_s=0.0)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(tl.speedscope("py-spy@0.4.3")))
    sampled = SamplerResult(True, "", path, 200, 0, nonblocking=True, chunks=1, reads=100)
    sec = section_from_sampler(
        sampled, rate=100, native=False, idle=False, wall=1.0, nonblocking=True
    )
    assert sec.flame is not None
    names = {sec.flame.functions[i].name for i in sec.flame.func}
    assert "Condition.wait" not in names and sec.flame.total == 1_000_000  # 1 s of crunch
    kept = section_from_sampler(
        sampled, rate=100, native=False, idle=True, wall=1.0, nonblocking=True
    )
    assert kept.flame is not None and kept.flame.total == 2_000_000  # and 1 s of waiting


def test_the_timeline_built_in_memory_is_read_as_it_is_not_back_from_its_file(tmp_path):
    """The file is for other tools: the tables read the timeline's own stacks (shared tuples,
    not one new list per sample), so a file gone or changed since changes nothing."""
    main = [_thread(100, "MainThread"), _fn("<module>", 1)]
    samples = [(k * 4000, 7, 1, [*main, _fn("step", 5 + k % 2)]) for k in range(250)]
    tl = Timeline(rate=250)
    tl.add_chunk(py_spy_events(samples, 1_000_000), origin_s=0.0)
    doc = tl.speedscope("py-spy@0.4.3")
    path = tmp_path / "gone.json"  # never written
    sampled = SamplerResult(True, "", path, 250, 0, nonblocking=True, chunks=1, reads=250, doc=doc)
    sec = section_from_sampler(
        sampled, rate=250, native=False, idle=False, wall=1.0, nonblocking=True
    )
    assert sec.available and {f.name for f in sec.functions} >= {"step", "<module>"}
    assert sec.samples == 250
    (prof,) = doc["profiles"]
    assert len({id(s) for s in prof["samples"]}) == 2  # two stacks, each one object


def test_the_chunk_length_is_settable_and_checked(monkeypatch):
    monkeypatch.delenv("DIAGKIT_CHUNK_S", raising=False)
    assert chunk_seconds() == CHUNK_S
    monkeypatch.setenv("DIAGKIT_CHUNK_S", "1")
    assert chunk_seconds() == 1
    for bad in ("0", "1.5", "x"):
        monkeypatch.setenv("DIAGKIT_CHUNK_S", bad)
        with pytest.raises(DiagError, match="DIAGKIT_CHUNK_S"):
            chunk_seconds()


def test_a_chunk_at_a_lower_rate_counts_its_own_samples_and_reads():
    stack = [_thread(100, "MainThread"), _fn("loop", 3)]
    tl = Timeline(rate=250)
    tl.add_chunk(py_spy_events([(0, 7, 1, stack)], 400_000), origin_s=0.0)
    tl.add_chunk(py_spy_events([(0, 7, 1, stack)], 1_000_000), origin_s=0.44, rate=50)
    (prof,) = tl.speedscope("x")["profiles"]
    assert prof["weights"] == pytest.approx([1.4])  # one stack across the seam: its seconds
    # 0.4 s at 250 Hz is 100 slots, 1 s at 50 Hz 50: a count at the first rate would say 350.
    assert prof["slots"] == [150]
    assert [c.rate for c in tl.chunks] == [250, 50]
    assert tl.reads_due == 150


def _chunked(reads_per_s: int, rate: int = 250):
    from pathlib import Path

    from diagkit.collectors.chunked_sampler import ChunkedSampler

    return ChunkedSampler(
        1, Path("/nonexistent/p.json"), rate=rate, chunk_s=10, reads_per_s=reads_per_s
    )


def test_the_rate_falls_as_threads_are_added_and_never_below_its_floor():
    from diagkit.collectors.chunked_sampler import MIN_RATE

    s = _chunked(2000)
    assert [s.rate_for(n) for n in (0, 1, 8, 9, 33, 100, 10_000)] == [
        250,
        250,
        250,
        222,
        60,
        MIN_RATE,
        MIN_RATE,
    ]
    assert _chunked(0).rate_for(500) == 250  # an explicit --rate holds whatever the threads
    assert _chunked(2000, rate=10).rate_for(500) == 10  # a rate set below the floor stays


def test_the_result_says_when_the_rate_fell_and_to_what():
    s = _chunked(2000)
    stack = [_thread(100, "MainThread"), _fn("loop", 3)]
    for origin, rate in ((0.0, 250), (0.3, 60), (10.4, 125)):
        s.timeline.add_chunk(py_spy_events([(0, 7, 1, stack)], 200_000), origin_s=origin, rate=rate)
    assert s._rate_change() == (60, 0.3)
    one = _chunked(2000)
    one.timeline.add_chunk(py_spy_events([(0, 7, 1, stack)], 200_000), origin_s=0.0)
    assert one._rate_change() == (0, 0.0)
