"""Read what the in-process collectors wrote to the channel and turn it into report sections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diagkit.model.gc import GcPause, GcSection
from diagkit.model.logs import LogRecord, LogsSection
from diagkit.model.report import (
    ExceptionInfo,
    JitCompile,
    JitFunction,
    JitSection,
    NumericsSection,
    RangeEvent,
    RangesSection,
    RangeStat,
    WarningRecord,
)
from diagkit.target.event_kinds import EventKind


@dataclass
class InprocResults:
    start_ns: int | None = None
    # User and system CPU seconds the target had used when the program's first line ran.
    start_cpu: tuple[float, float] = (0.0, 0.0)
    exit_code: int | None = None
    exception: ExceptionInfo | None = None
    finished: bool = False
    bad_target: str = ""
    modules: dict[str, str] | None = None
    jit: JitSection = field(default_factory=JitSection)
    gc: GcSection = field(default_factory=GcSection)
    logs: LogsSection = field(default_factory=LogsSection)
    numerics: NumericsSection = field(default_factory=NumericsSection)
    ranges: RangesSection = field(default_factory=RangesSection)
    # What went wrong on the in-process side, for the report's notes.
    notes: list[str] = field(default_factory=list)


def parse_events(events: list[dict[str, Any]], t0_ns: int) -> InprocResults:
    """Fold the event stream into sections; everything still works on a stream cut short by a crash."""
    res = InprocResults()
    sec = lambda ns: (ns - t0_ns) / 1e9  # noqa: E731
    warnings_seen: dict[tuple[str, str, str, int], WarningRecord] = {}
    counted = False
    range_stats: dict[str, list[float]] | None = None
    jit_cache: dict[str, tuple[int, int]] = {}
    jit_ready = False
    for ev in events:
        k = ev.get("k")
        if k == EventKind.START:
            res.start_ns = ev["t"]
            cpu = ev.get("cpu")
            if isinstance(cpu, list) and len(cpu) == 2:
                res.start_cpu = (float(cpu[0]), float(cpu[1]))
        elif k == EventKind.EXIT:
            res.exit_code = ev.get("code")
        elif k == EventKind.EXCEPTION:
            res.exception = ExceptionInfo(
                type=ev["type"],
                message=ev["message"],
                traceback=ev["traceback"],
                file=ev.get("file", ""),
                line=ev.get("line", 0),
                function=ev.get("function", ""),
            )
        elif k == EventKind.WARNING:
            key = (ev["category"], ev["message"], ev["file"], ev["line"])
            warnings_seen.setdefault(key, WarningRecord(*key, count=1, first_t=sec(ev["t"])))
        elif k == EventKind.WARNING_COUNTS:
            counted = True
            for cat, msg, f, ln, count, first, capped in ev["counts"]:
                rec = warnings_seen.setdefault(
                    (cat, msg, f, ln), WarningRecord(cat, msg, f, ln, 1, sec(first))
                )
                rec.count, rec.capped = count, bool(capped)
        elif k == EventKind.RANGES:
            for name, start, end, tid, depth, *still_open in ev["events"]:
                res.ranges.events.append(
                    RangeEvent(name, sec(start), sec(end), tid, depth, bool(still_open))
                )
        elif k == EventKind.RANGE_STATS:
            range_stats = ev["stats"]
            res.ranges.events_dropped = ev.get("dropped", 0)
        elif k == EventKind.JIT_READY:
            jit_ready = True
            res.jit.numba_version = ev.get("version", "")
        elif k == EventKind.JIT_UNAVAILABLE:
            res.jit.available = False
            res.jit.unavailable_reason = ev.get("reason", "")
        elif k == EventKind.COMPILE:
            res.jit.compiles.append(
                JitCompile(
                    function=ev["function"],
                    signature=ev["signature"],
                    start_t=sec(ev["t"]),
                    seconds=ev["exclusive_ns"] / 1e9,
                    inclusive_s=ev["inclusive_ns"] / 1e9,
                    ok=ev.get("ok", True),
                    caller_file=ev.get("caller_file", ""),
                    caller_line=ev.get("caller_line", 0),
                )
            )
        elif k == EventKind.GC:
            res.gc = _gc(ev, sec)
        elif k == EventKind.LOGS:
            res.logs = _logs(ev, sec)
        elif k == EventKind.JIT_CACHE:
            jit_cache = {name: (h, m) for name, h, m in ev["stats"]}
        elif k == EventKind.MODULES:
            res.modules = ev["modules"]
        elif k == EventKind.BAD_TARGET:
            res.bad_target = ev["message"]
        elif k in _NOTES:
            res.notes.append(_NOTES[k].format_map(defaultdict(str, ev)))
        elif k == EventKind.END:
            res.finished = True
    res.numerics.warnings = sorted(warnings_seen.values(), key=lambda w: -w.count)
    res.numerics.total = sum(w.count for w in res.numerics.warnings)
    if not counted and warnings_seen:
        res.numerics.unavailable_reason = "the program did not exit normally: each warning below was seen, counts are a lower bound"
    res.ranges.stats = _range_stats(range_stats, res.ranges.events)
    _fold_jit(res.jit, jit_cache, jit_ready)
    return res


_NOTES = {
    EventKind.COLLECTOR_ERROR: "in-process collector {where} failed inside the program and was stopped "
    "there; its records are incomplete ({error})",
    EventKind.CHANNEL_REOPENED: "the program closed or reused diag's channel descriptor (fd {fd}); "
    "diag reopened its file and wrote nothing into the program's",
    EventKind.STACK_FILE_REFUSED: "no stack file for diag dump's signal fallback: {reason}",
}


def _range_stats(stats: dict[str, list[float]] | None, events: list[RangeEvent]) -> list[RangeStat]:
    if stats is None:  # crashed before exit: rebuild from the events that reached the channel
        acc: dict[str, list[float]] = {}
        for e in events:
            if e.open:
                continue
            d = (e.end_t - e.start_t) * 1e9
            s = acc.setdefault(e.name, [0, 0.0, d, d])
            s[0] += 1
            s[1] += d
            s[2], s[3] = min(s[2], d), max(s[3], d)
        stats = acc
    out = [
        RangeStat(name, int(c), tot / 1e9, tot / c / 1e9, lo / 1e9, hi / 1e9)
        for name, (c, tot, lo, hi) in stats.items()
    ]
    return sorted(out, key=lambda r: -r.total_s)


_LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


def _logs(ev: dict[str, Any], sec: Callable[[int], float]) -> LogsSection:
    counts = {str(k): int(v) for k, v in ev["counts"].items()}
    return LogsSection(
        available=True,
        unavailable_reason="",
        level=_LEVEL_NAMES.get(int(ev.get("level", 20)), str(ev.get("level"))),
        counts=counts,
        total=sum(counts.values()),
        records=[
            LogRecord(sec(t), level, logger, message, file, line, thread)
            for t, level, logger, message, file, line, thread in ev["records"]
        ],
    )


def _gc(ev: dict[str, Any], sec: Callable[[int], float]) -> GcSection:
    pauses = [p / 1e9 for p in ev["pause_ns"]]
    return GcSection(
        available=True,
        unavailable_reason="",
        enabled=bool(ev.get("enabled", True)),
        collections=list(ev["counts"]),
        pause_s=pauses,
        collected=list(ev["collected"]),
        longest_s=[p / 1e9 for p in ev["longest_ns"]],
        total_pause_s=sum(pauses),
        long_pauses=[GcPause(sec(t), g, ns / 1e9) for t, g, ns in ev.get("long", [])],
    )


def _fold_jit(jit: JitSection, cache: dict[str, tuple[int, int]], ready: bool) -> None:
    per: dict[str, JitFunction] = {}
    for c in jit.compiles:
        f = per.setdefault(c.function, JitFunction(c.function, 0, 0.0))
        f.compiles += 1
        f.compile_s += c.seconds
        f.signatures.append(c.signature)
    for name, (hits, misses) in cache.items():
        f = per.setdefault(name, JitFunction(name, 0, 0.0))
        f.cache_hits, f.cache_misses = hits, misses
    jit.functions = sorted(per.values(), key=lambda f: -f.compile_s)
    jit.total_compile_s = sum(c.seconds for c in jit.compiles)
    if not ready and jit.available and not jit.compiles:
        jit.available = False
        jit.unavailable_reason = "the program did not import numba"
