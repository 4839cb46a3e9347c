"""Dump running processes in rounds: each round takes every process's stacks and facts once.

Each dump is preceded by a reading of every thread's CPU time, so a stack comes
with the CPU its thread used just before it: over a short window for the first
dump, since the previous dump for the others. The stacks come from py-spy, or
from faulthandler for a process diag started when py-spy is refused. A Ctrl-C
ends the rounds, not the command: what was taken until then is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil

from diagkit.collectors.pid_checks import describe, gone, refusal_message
from diagkit.collectors.process_facts import process_facts
from diagkit.collectors.stacks import dump_stacks, native_thread_ids
from diagkit.collectors.thread_cpu import ThreadCpu, cpu_shares, read_threads
from diagkit.dumping.verdict import process_summary, thread_verdicts
from diagkit.errors import (
    DiagError,
    ExitCode,
    NotPython,
    TargetBusy,
    TargetGone,
    TargetRefused,
)
from diagkit.model.dump import ProcessDump
from diagkit.model.report import StacksSection

CPU_WINDOW_S = 0.1
PARALLEL = 4


@dataclass
class DumpOptions:
    native: bool = False
    show_locals: bool = False
    repeat: int = 1
    interval: float = 1.0
    window: float = CPU_WINDOW_S


@dataclass
class Dumped:
    """One process's dumps, and the error its failure calls for (None: none)."""

    proc: psutil.Process
    result: ProcessDump
    failure: DiagError | None = None
    _before: ThreadCpu | None = None
    _done: bool = False
    _idents: dict[int, int] = field(default_factory=dict)  # pthread id -> native id (py-spy)
    _cpu: list[tuple[ThreadCpu | None, ThreadCpu]] = field(default_factory=list)  # per dump

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.failure is None else self.failure.exit_code


@dataclass
class Rounds:
    processes: list[Dumped]
    taken: int = 0  # rounds completed
    interrupted: bool = False  # by Ctrl-C (SIGINT) before the last round


def dump_rounds(
    targets: list[tuple[psutil.Process, int]],
    opts: DumpOptions,
    early: dict[int, ThreadCpu] | None = None,
) -> Rounds:
    """``targets``: (process, pid of the process it was found under or 0). Order is kept.

    ``early``: CPU readings already taken (by pid); the first window started then.
    """
    items = [Dumped(proc, ProcessDump(pid=proc.pid, child_of=parent)) for proc, parent in targets]
    rounds = Rounds(items)
    try:
        for item in items:
            item._before = (early or {}).get(item.proc.pid) or read_threads(item.proc.pid)
        start = min(i._before.t for i in items if i._before is not None)
        time.sleep(max(0.0, start + opts.window - time.monotonic()))
        first_at = time.monotonic()
        for k in range(opts.repeat):
            delay = first_at + k * opts.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            live = [i for i in items if not i._done]
            if not live:
                break
            _round(live, k, opts, start)
            rounds.taken = k + 1
    except KeyboardInterrupt:
        # The dumps already taken are what the user waited for: they are printed.
        rounds.interrupted = True
    for item in items:
        _conclude(item)
    return rounds


def _round(live: list[Dumped], k: int, opts: DumpOptions, start: float) -> None:
    readings = [read_threads(i.proc.pid) for i in live]

    def one(item: Dumped) -> tuple[StacksSection, list[DiagError]]:
        failures: list[DiagError] = []
        sec = dump_stacks(
            item.proc.pid,
            native=opts.native,
            show_locals=opts.show_locals,
            idents=item._idents,
            failures=failures,
        )
        return sec, failures

    if len(live) == 1:
        answers = [one(live[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor  # 6 ms to import: only when needed

        with ThreadPoolExecutor(min(PARALLEL, len(live))) as pool:
            answers = list(pool.map(one, live))
    for item, after, (sec, failures) in zip(live, readings, answers, strict=True):
        if not sec.available:
            _failed(
                item,
                failures[-1] if failures else DiagError(sec.unavailable_reason),
                k,
                opts.repeat,
            )
            continue
        try:
            sec.process = process_facts(item.proc, item._before, after)
        except psutil.Error:
            _failed(item, DiagError(""), k, opts.repeat)
            continue
        sec.taken_t = after.t - start
        item._cpu.append((item._before, after))
        item.result.dumps.append(sec)
        item._before = after


def _annotate(sec: StacksSection, before: ThreadCpu | None, after: ThreadCpu) -> None:
    shares = cpu_shares(before, after) if before is not None else {}
    for th in sec.threads:
        if th.thread_id in after.cpu:
            th.cpu_s = after.cpu[th.thread_id]
            th.cpu_share = shares.get(th.thread_id)
            th.os_state = after.state.get(th.thread_id, "")


def _same_ids(item: Dumped) -> None:
    """Name every dump's threads as py-spy did, including dumps taken before it first
    answered: a thread is one thread whichever source saw it."""
    names: dict[int, str] = {}
    for sec in item.result.dumps:
        if sec.source.startswith("py-spy"):
            names.update((th.thread_id, th.name) for th in sec.threads if th.name)
    for sec, (_, after) in zip(item.result.dumps, item._cpu, strict=True):
        if sec.source.startswith("py-spy"):
            continue
        native_thread_ids(sec.threads, item._idents, sorted(after.cpu), item.proc.pid)
        for th in sec.threads:
            th.name = names.get(th.thread_id, th.name)


def _failed(item: Dumped, why: DiagError, k: int, repeat: int) -> None:
    """``why``: what kept the stacks or the facts from being read, as the error of its kind;
    the process's own error says the same of this process."""
    item._done = True
    if gone(item.proc):
        item.result.exited = (
            "exited during the dump"
            if k == 0
            else f"exited during the dumps (after {k} of {repeat})"
        )
        item.failure = TargetGone(f"pid {item.proc.pid} {item.result.exited}")
        return
    if isinstance(why, TargetRefused):
        item.failure = TargetRefused(refusal_message(item.proc))
    elif isinstance(why, TargetBusy):
        item.failure = TargetBusy(f"{describe(item.proc)}: {why.message}")
    elif isinstance(why, NotPython):
        item.failure = NotPython(
            f"{describe(item.proc)} is not a Python process (py-spy found no Python interpreter in it)"
        )
    else:
        item.failure = TargetGone(f"{describe(item.proc)}: {why.message}")
    item.result.error = item.failure.message


def _conclude(item: Dumped) -> None:
    del item._cpu[len(item.result.dumps) :]  # a Ctrl-C between the two appends above
    _same_ids(item)
    for sec, (before, after) in zip(item.result.dumps, item._cpu, strict=True):
        _annotate(sec, before, after)
    dumps = item.result.dumps
    if len(dumps) < 2:
        return
    first, last = dumps[0].process, dumps[-1].process
    span = dumps[-1].taken_t - dumps[0].taken_t
    share = None
    if first is not None and last is not None and span > 0 and "cpu times" not in last.unreadable:
        used = last.cpu_user_s + last.cpu_system_s - first.cpu_user_s - first.cpu_system_s
        share = max(0.0, used) / span
    item.result.verdicts = thread_verdicts(dumps, share)
    item.result.summary = process_summary(item.result.verdicts, len(dumps), span)
