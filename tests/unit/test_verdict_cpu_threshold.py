"""Where a thread whose stack stays put stops being stuck and starts being busy: at 2% of a core.

A thread polling, logging or spinning on a lock between 2% and 50% of a core is
running, and the dump must say busy: a wait that is not a hang is not "stuck".
"""

from __future__ import annotations

import pytest

from diagkit.dumping.verdict import process_summary, thread_verdicts
from diagkit.model.report import StackFrame, StacksSection, ThreadStack

STACK = [StackFrame("poll", "/app/serve.py", 12), StackFrame("main", "/app/serve.py", 40)]


def _two_dumps(shares: dict[int, float | None], span: float = 10.0) -> list[StacksSection]:
    """Two dumps ``span`` seconds apart; thread ``tid`` used ``shares[tid]`` of a core between them."""
    return [
        StacksSection(
            source="py-spy dump",
            taken_t=t,
            threads=[
                ThreadStack(
                    thread_id=tid,
                    name=f"T{tid}",
                    frames=STACK,
                    cpu_s=None if share is None else 5.0 + (share * span if t else 0.0),
                )
                for tid, share in shares.items()
            ],
        )
        for t in (0.0, span)
    ]


@pytest.mark.parametrize(
    ("share", "verdict"),
    [
        (0.0, "stuck"),
        (0.019, "stuck"),
        (0.021, "busy"),
        (0.1, "busy"),
        (0.3, "busy"),
        (0.49, "busy"),
    ],
)
def test_a_thread_on_the_same_stack_is_busy_from_two_percent_of_a_core(share, verdict):
    (v,) = thread_verdicts(_two_dumps({1: share}))
    assert v.cpu_share == pytest.approx(share)
    assert v.verdict == verdict
    assert v.text == f"{verdict} in poll (serve.py:12)"


def test_one_thread_over_two_percent_makes_the_process_busy():
    verdicts = thread_verdicts(_two_dumps({1: 0.0, 2: 0.25}))
    assert [(v.thread_id, v.verdict) for v in verdicts] == [(1, "stuck"), (2, "busy")]
    assert (
        process_summary(verdicts, 2, 10.0)
        == "busy: 1 stuck, 1 busy of 2 threads in 2 dumps over 10.0 s"
    )


@pytest.mark.parametrize(("share", "verdict"), [(0.01, "stuck"), (0.25, "unchanged")])
def test_without_thread_cpu_only_a_process_under_two_percent_makes_its_threads_stuck(
    share, verdict
):
    # faulthandler's stacks carry no OS thread ids: the whole process's CPU stands in, and
    # only when it used (next to) none; a process at 25% may be using it in any thread.
    (v,) = thread_verdicts(_two_dumps({1: None}), process_cpu_share=share)
    assert v.verdict == verdict
