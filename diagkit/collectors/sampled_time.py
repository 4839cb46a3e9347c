"""py-spy's speedscope samples as the report's time section: the function and line tables, the
flame tree and the hot lines' source (read from the program's files while they are there)."""

from __future__ import annotations

import json
import linecache
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from diagkit.collectors import import_fold
from diagkit.collectors.compile_fold import fold_for_flame, fold_for_tables
from diagkit.collectors.flame_tree import flame_tree
from diagkit.collectors.hot_source import source_listings
from diagkit.collectors.idle_frames import is_waiting
from diagkit.collectors.sample_stacks import (
    by_distinct_stack,
    is_library_file,
    native_tid,
    program_frames,
    work_samples,
)
from diagkit.collectors.sampler import SamplerResult, find_py_spy, py_spy_version
from diagkit.model.report import FunctionTime, JitCompile, LineTime, ThreadTime, TimeSection

if TYPE_CHECKING:
    from diagkit.model.report import Report

TOP_FUNCTIONS = 40
HOT_FUNCTIONS_FOR_LINES = 5
LINES_PER_FUNCTION = 12


WAIT_LINES = 5


def time_section(
    speedscope: dict[str, Any],
    *,
    rate: int,
    sampled_s: float,
    source: str,
    idle: bool = True,
    blocked: frozenset[int] = frozenset(),
) -> TimeSection:
    """Counts say how many samples were taken (a time-weighted sample counts for the
    intervals it covers); seconds and shares come from their weights.

    ``idle=False``: samples of a thread that was waiting (``idle_frames``) are dropped,
    as py-spy meant to. Every share is of the samples kept, threads' shares included,
    so none can pass 100%. ``blocked``: native ids of threads the kernel kept off the cores
    the whole time (``run_queue.blocked_threads``): all their samples are waits."""
    frames: list[dict[str, Any]] = speedscope["shared"]["frames"]
    profiles: list[dict[str, Any]] = speedscope.get("profiles", [])
    own: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    own_w: dict[tuple[str, str], float] = defaultdict(float)
    total_w: dict[tuple[str, str], float] = defaultdict(float)
    lines: Counter[tuple[str, str, int]] = Counter()
    lines_w: dict[tuple[str, str, int], float] = defaultdict(float)
    line_own: Counter[tuple[str, str, int]] = Counter()
    line_own_w: dict[tuple[str, str, int], float] = defaultdict(float)
    first_line: dict[tuple[str, str], int] = {}
    threads: list[tuple[str, int, float]] = []
    n, weight, waits = 0, 0.0, 0
    waited = _Waits()
    for prof in profiles:
        off_core = native_tid(prof.get("name", "")) in blocked
        kept, kept_w = 0, 0.0
        for stack, (c, w) in by_distinct_stack(prof, rate).items():  # root first, leaf last
            frs = program_frames([frames[i] for i in stack])
            if not frs:
                continue
            waiting = off_core or is_waiting(frs, is_library_file)
            waited.add(prof.get("name", "?"), frs, w, c, waiting)
            if waiting and not idle:
                waits += c
                continue
            n, weight = n + c, weight + w
            kept, kept_w = kept + c, kept_w + w
            seen_f: set[tuple[str, str]] = set()
            seen_l: set[tuple[str, str, int]] = set()
            for fr in frs:
                key = (fr["name"], fr.get("file") or "")
                ln = int(fr.get("line") or 0)
                if key not in seen_f:
                    seen_f.add(key)
                    total[key] += c
                    total_w[key] += w
                lk = (*key, ln)
                if lk not in seen_l:
                    seen_l.add(lk)
                    lines[lk] += c
                    lines_w[lk] += w
                if ln and (key not in first_line or ln < first_line[key]):
                    first_line[key] = ln
            leaf = (frs[-1]["name"], frs[-1].get("file") or "")
            own[leaf] += c
            own_w[leaf] += w
            user = next(
                (fr for fr in reversed(frs) if not is_library_file(fr.get("file") or "")), None
            )
            if user is not None:
                uk = (user["name"], user.get("file") or "", int(user.get("line") or 0))
                line_own[uk] += c
                line_own_w[uk] += w
        if kept:
            threads.append((prof.get("name", "?"), kept, kept_w))
    sec = TimeSection(source=source, rate_hz=rate, samples=n, sampled_s=sampled_s)
    if n == 0:
        sec.available = False
        sec.unavailable_reason = (
            f"no samples of work: all {waits} samples were of threads waiting (--idle keeps them)"
            if waits
            else "no samples: the program ended before the first sample was taken"
        )
        return sec
    sec.threads = [
        ThreadTime(name, c, w / weight, seconds=w, tid=native_tid(name)) for name, c, w in threads
    ]
    main = max((w for _, _, w in threads), default=0.0)
    sec.active_s = min(main, sampled_s) if sampled_s else main
    sec.idle_s = max(0.0, sampled_s - sec.active_s)
    ranked = sorted(total, key=lambda k: (-own_w[k], -total_w[k]))
    by_total = sorted(total, key=lambda k: -total_w[k])
    keep = list(dict.fromkeys(ranked[:TOP_FUNCTIONS] + by_total[:TOP_FUNCTIONS]))
    sec.functions = [
        FunctionTime(
            name=k[0],
            file=k[1],
            line=first_line.get(k, 0),
            own_samples=own[k],
            total_samples=total[k],
            own_s=own_w[k],
            total_s=total_w[k],
            own_share=own_w[k] / weight,
            total_share=total_w[k] / weight,
            # "<frozen ...>" is the interpreter's own Python; "<numba compile>" is diag's row
            kind="python" if k[1].endswith(".py") or k[1].startswith("<") else "native",
        )
        for k in keep
    ]
    # Hot functions for the line table: where the program's own code was innermost, so a
    # main() that calls everything does not crowd out the loop that does the work.
    user_own: dict[tuple[str, str], float] = defaultdict(float)
    for (name, f, _), w in line_own_w.items():
        user_own[(name, f)] += w
    hot = sorted(user_own, key=lambda k: -user_own[k])[:HOT_FUNCTIONS_FOR_LINES] or by_total[:1]
    for key in hot:
        rows = sorted(
            ((ln, w) for (name, f, ln), w in lines_w.items() if (name, f) == key and ln),
            key=lambda r: -r[1],
        )[:LINES_PER_FUNCTION]
        sec.lines += [
            LineTime(
                function=key[0],
                file=key[1],
                line=ln,
                samples=lines[(*key, ln)],
                seconds=w,
                share=w / weight,
                source=linecache.getline(key[1], ln).strip(),
                own_samples=line_own[(*key, ln)],
                own_share=line_own_w[(*key, ln)] / weight,
            )
            for ln, w in rows
        ]
    sec.waiting_s, sec.waits = waited.main_thread()
    return sec


class _Waits:
    """Where each thread waited (``idle_frames``), kept or not: the main thread's waiting
    seconds and the lines it waited on, for the waiting finding."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.waiting: dict[str, float] = defaultdict(float)
        self.lines: dict[str, dict[tuple[str, str, int], list[float]]] = defaultdict(dict)

    def add(self, thread: str, frs: list[dict[str, Any]], w: float, c: int, waiting: bool) -> None:
        self.total[thread] += w
        if not waiting:
            return
        self.waiting[thread] += w
        at = next((f for f in reversed(frs) if not is_library_file(f.get("file") or "")), frs[-1])
        key = (at.get("name") or "", at.get("file") or "", int(at.get("line") or 0))
        row = self.lines[thread].setdefault(key, [0, 0.0])
        row[0] += c
        row[1] += w

    def main_thread(self) -> tuple[float, list[LineTime]]:
        if not self.total:
            return 0.0, []
        named = [t for t in self.total if t.endswith('"MainThread"')]
        main = named[0] if named else max(self.total, key=lambda t: self.total[t])
        whole = self.total[main]
        rows = sorted(self.lines[main].items(), key=lambda kv: -kv[1][1])[:WAIT_LINES]
        return self.waiting[main], [
            LineTime(
                function=fn,
                file=file,
                line=ln,
                samples=int(c),
                seconds=w,
                share=w / whole if whole else 0.0,
                source=linecache.getline(file, ln).strip() if ln else "",
            )
            for (fn, file, ln), (c, w) in rows
        ]


def _name_main_thread(sec: TimeSection, pid: int) -> None:
    """py-spy reads no thread names from some Pythons (3.12 here: ``Thread 123 ""``); the
    thread whose native id is the process's pid is its main thread."""
    unnamed = f'Thread {pid} ""'
    for t in sec.threads:
        if pid and t.thread == unnamed:
            t.thread = f'Thread {pid} "MainThread"'


def section_from_sampler(
    sampled: SamplerResult,
    *,
    rate: int,
    native: bool,
    idle: bool,
    wall: float,
    how: str = "",
    nonblocking: bool = False,
    compiles: list[JitCompile] | None = None,
    blocked: frozenset[int] = frozenset(),
) -> TimeSection:
    """The time section of a finished py-spy record run (``how`` is added to its source line;
    ``blocked``: threads whose samples are all waits, see ``time_section``)."""
    if not sampled.ok or sampled.speedscope is None:
        return TimeSection(available=False, unavailable_reason=sampled.reason)
    if sampled.doc is not None:
        data = sampled.doc
    else:
        with open(sampled.speedscope) as fh:
            data = json.load(fh)
    mode = "native frames, " if native else ""
    exporter = str(data.get("exporter", ""))  # "py-spy@0.4.3"
    version = exporter.partition("@")[2] or py_spy_version(find_py_spy() or "py-spy")
    slow_after_s = sampled.slow_after_s
    rates = f"{rate} Hz"
    if sampled.slow_rate:
        rates = f"{rate} Hz for the first {slow_after_s:g} s, then {sampled.slow_rate} Hz"
    if sampled.nonblocking:
        nb_rates = f"{rate} Hz"
        if sampled.slow_rate:  # lowered for the threads alive (see chunked_sampler)
            nb_rates += f" ({sampled.slow_rate} Hz from {slow_after_s:g} s, for its threads)"
        source = f"py-spy {version} record, nonblocking {nb_rates}, time-weighted"
        if sampled.errors:
            # Reads that raced a changing stack failed; their time went to the samples
            # either side of them, which sit in the same phase of the program.
            source += f", {sampled.errors} of {sampled.reads} reads failed"
        source += how
    else:
        source = f"py-spy {version} record, {rates}, {mode}blocking{how}"
    # Imports and Numba compiles as what they are (the file on disk keeps the raw stacks).
    tables = fold_for_tables(import_fold.fold_for_tables(data), compiles or [])
    sec = time_section(tables, rate=rate, sampled_s=wall, source=source, idle=idle, blocked=blocked)
    _name_main_thread(sec, sampled.pid)
    # The samples the tables count: without --idle, not those of threads waiting. Taken out
    # once, before the folds, which leave the frames a wait is told by as they were.
    kept = data if idle else work_samples(data, blocked)
    tree = flame_tree(fold_for_flame(import_fold.fold_for_flame(kept), compiles or []))
    if sec.available:
        sec.imports = import_fold.imports_section(kept, rate)
    sec.flame = tree if tree.total else None
    sec.sources = source_listings(sec)
    if sampled.slow_rate:
        sec.slow_rate_hz, sec.slow_after_s = sampled.slow_rate, slow_after_s
    elif sampled.slow_failed and wall > slow_after_s + 0.5:
        # Not a target that ended as the second py-spy attached: shares cover the start only.
        sec.source += (
            f"; only the first {slow_after_s:g} s were sampled (the second py-spy failed: "
            f"{sampled.slow_failed})"
        )
    if sampled.chunks > 1:
        sec.source += (
            f"; py-spy ran in {sampled.chunks} chunks, {sampled.seams_s:.3f} s between them "
            "unsampled"
        )
    if sampled.stopped_why and wall > sampled.stopped_after_s + 0.5:
        sec.source += (
            f"; only the first {sampled.stopped_after_s:.1f} s were sampled (the next py-spy "
            f"failed: {sampled.stopped_why})"
        )
    sec.native, sec.idle_included, sec.nonblocking = native, idle, nonblocking
    sec.sample_errors, sec.sample_reads = sampled.errors, sampled.reads
    sec.chunks, sec.seams_s = sampled.chunks, sampled.seams_s
    return sec


def unsampled_children_note(report: Report) -> str | None:
    """A run whose child processes did the work while only the parent was sampled: its
    CPU time (which counts the children it waited for) far above what was sampled."""
    cpu = report.outcome.cpu_user_s + report.outcome.cpu_system_s
    had_children = any(p.children_rss for p in report.memory.timeline)
    sampled = report.time.active_s if report.time.available else 0.0
    if not had_children or cpu < 2 * sampled + 0.5:
        return None
    return (
        f"the program's child processes were not sampled: it used {cpu:.1f} s of CPU, "
        f"{sampled:.1f} s of it sampled in its own process; --subprocesses samples the "
        "children too"
    )
