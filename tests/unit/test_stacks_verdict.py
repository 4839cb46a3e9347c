"""Thread verdicts across dumps: stuck, busy, moving, started, ended; and the dump JSON model."""

from __future__ import annotations

from diagkit.dumping.verdict import process_summary, thread_verdicts
from diagkit.model.dump import DumpResult, ProcessDump
from diagkit.model.report import ProcessFacts, StackFrame, StacksSection, ThreadStack
from diagkit.model.serde import json_schema


def _f(fn: str, line: int, file: str = "/app/fit.py") -> StackFrame:
    return StackFrame(function=fn, file=file, line=line)


def _t(tid: int, frames: list[StackFrame], cpu: float | None, name: str = "") -> ThreadStack:
    return ThreadStack(thread_id=tid, name=name or f"T{tid}", frames=frames, cpu_s=cpu)


def _dumps(*rounds: list[ThreadStack], every: float = 1.0) -> list[StacksSection]:
    return [
        StacksSection(source="py-spy dump", taken_t=i * every, threads=ths)
        for i, ths in enumerate(rounds)
    ]


def _by_id(dumps: list[StacksSection], share: float | None = None) -> dict[int, object]:
    return {v.thread_id: v for v in thread_verdicts(dumps, share)}


def test_same_stack_without_cpu_is_stuck_naming_the_innermost_python_frame():
    stack = [
        StackFrame("futex_wait", "/lib/libc.so.6", 0, native=True),
        _f("acquire_b", 14),
        _f("worker", 30),
    ]
    d = _dumps([_t(1, stack, 2.00)], [_t(1, stack, 2.005)], [_t(1, stack, 2.01)])
    v = _by_id(d)[1]
    assert v.verdict == "stuck"
    assert (v.function, v.line) == ("acquire_b", 14)
    assert v.native == "futex_wait"
    assert v.text == "stuck in acquire_b (fit.py:14), in native futex_wait"
    assert abs(v.cpu_share - 0.005) < 1e-9 and v.dumps == 3


def test_same_function_with_cpu_is_busy_even_when_the_line_moves():
    a = [_f("loop", 10), _f("main", 40)]
    b = [_f("loop", 11), _f("main", 40)]
    v = _by_id(_dumps([_t(7, a, 0.0)], [_t(7, b, 0.9)], [_t(7, a, 1.8)]))[7]
    assert v.verdict == "busy" and v.function == "loop"
    assert abs(v.cpu_share - 0.9) < 1e-9


def test_a_caller_line_change_is_movement_under_the_deepest_shared_frame():
    a = [_f("step", 5), _f("fit", 20), _f("main", 40)]
    b = [_f("score", 8), _f("fit", 21), _f("main", 40)]
    v = _by_id(_dumps([_t(1, a, 0.0)], [_t(1, b, 1.0)]))[1]
    assert v.verdict == "moving"
    assert (v.function, v.line) == ("main", 40)  # fit's line differs: main is the deepest shared


def test_threads_that_come_and_go_are_not_called_stuck():
    s = [_f("wait", 3)]
    d = _dumps([_t(1, s, 0.0), _t(2, s, 0.0)], [_t(1, s, 0.0), _t(3, s, 0.0)])
    got = {tid: v.verdict for tid, v in _by_id(d).items()}
    assert got == {1: "stuck", 2: "ended", 3: "started"}


def test_unknown_thread_cpu_uses_the_process_cpu_only_when_it_is_idle():
    s = [_f("wait", 3)]
    d = _dumps([_t(1, s, None)], [_t(1, s, None)])
    assert _by_id(d)[1].verdict == "unchanged"
    assert _by_id(d, share=0.5)[1].verdict == "unchanged"
    assert _by_id(d, share=0.0)[1].verdict == "stuck"


def test_one_dump_gives_no_verdict():
    assert thread_verdicts(_dumps([_t(1, [_f("f", 1)], 0.0)])) == []


def test_summary_leads_with_what_matters():
    s = [_f("wait", 3)]
    stuck = thread_verdicts(_dumps([_t(1, s, 0.0)], [_t(1, s, 0.0)], [_t(1, s, 0.0)]))
    assert (
        process_summary(stuck, 3, 2.0) == "stuck: no thread moved or used CPU in 3 dumps over 2.0 s"
    )
    mixed = thread_verdicts(_dumps([_t(1, s, 0.0), _t(2, s, 0.0)], [_t(1, s, 0.0), _t(2, s, 0.8)]))
    assert process_summary(mixed, 2, 1.0).startswith("busy: 1 stuck, 1 busy of 2 threads")


def test_dump_result_round_trips_and_has_a_schema():
    sec = StacksSection(source="py-spy dump", threads=[_t(1, [_f("f", 1)], 0.5)])
    sec.process = ProcessFacts(pid=9, cmdline=["python", "x.py"], cpu_share=None)
    res = DumpResult(
        "1.0", "0.1.0", "now", ["diag", "dump"], processes=[ProcessDump(pid=9, dumps=[sec])]
    )
    assert DumpResult.from_json(res.to_json()) == res
    schema = json_schema(DumpResult)
    assert "ThreadVerdict" in schema["$defs"] and "ProcessFacts" in schema["$defs"]


def test_a_library_frame_on_top_names_the_programs_own_caller():
    lib = "/usr/lib/python3.11/threading.py"
    stack = [
        _f("Thread._wait_for_tstate_lock", 1139, lib),
        _f("Thread.join", 1119, lib),
        _f("<module>", 14),
    ]
    v = _by_id(_dumps([_t(1, stack, 0.0)], [_t(1, stack, 0.0)]))[1]
    assert v.caller == "<module> (fit.py:14)"
    assert (
        v.text
        == "stuck in Thread._wait_for_tstate_lock (threading.py:1139), called from <module> (fit.py:14)"
    )
