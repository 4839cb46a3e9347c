"""In-process collector of the tracers pass: cProfile, line_profiler, per-line RSS.

Started by the bootstrap right before the program's first line
(``diagkit.deep.tracers:start``). cProfile takes the profile hook and
line_profiler the trace hook, so the two coexist. The per-line RSS tracer needs
the trace hook too: it is installed first and line_profiler is created with
``wrap_trace=True``, so line_profiler calls it on every event instead of
switching it off; the code it watches is line_profiler's padded code, since the
swap for line_profiler happens before.
"""

from __future__ import annotations

import cProfile
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from diagkit._paths import real_path
from diagkit.deep.codepatch import CodePatcher
from diagkit.deep.config import DeepConfig, Key, redirect_output
from diagkit.deep.memlines import MemoryLines
from diagkit.deep.threadtrace import ThreadTracers, claim_tool_id
from diagkit.model.store import LPROF, PSTATS
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind


class _Holder:
    """What line_profiler's ``add_function`` needs: an object whose ``__code__`` it may replace."""

    def __init__(self, code: types.CodeType) -> None:
        self.__code__ = code


def start(channel: Channel) -> Callable[[], None]:
    cfg = DeepConfig.from_env()
    redirect_output(cfg.log)
    lines = set(cfg.lines)
    mem_keys = set(cfg.memory_lines)
    lp = _line_profiler(wrap=bool(mem_keys)) if lines else None
    mem = MemoryLines() if mem_keys else None

    registered: list[tuple[Key, list[int]]] = []

    def swap(code: types.CodeType, key: Key) -> types.CodeType:
        if lp is not None and key in lines:
            holder = _Holder(code)
            lp.add_function(holder)
            code = holder.__code__
            # Read now: line_profiler keys this table by code object, and the hash of a code
            # object that holds a function Numba compiled has been seen to change by exit.
            registered.append((key, list(lp.code_hash_map.get(code, []))))
        if mem is not None and key in mem_keys:
            mem.add(code)
        return code

    patcher = CodePatcher([*lines, *mem_keys], swap)
    prof = cProfile.Profile()
    threads = ThreadTracers(lp)
    try:
        patcher.install()
        patcher.patch_loaded()
        if mem is not None:
            mem.enable()  # before line_profiler, which then wraps it
        if lp is not None:
            lp.enable()
        prof.enable()
        threads.install()
    except BaseException:
        # A tool left enabled would run on into the program and into interpreter shutdown.
        _stop(prof, lp, mem, patcher, threads)
        raise

    def finish() -> None:
        _stop(prof, lp, mem, patcher, threads)
        _flush(channel, [prof, *threads.profiles], lp, registered, mem, patcher.seen)

    return finish


def _stop(
    prof: cProfile.Profile,
    lp: Any,
    mem: MemoryLines | None,
    patcher: CodePatcher,
    threads: ThreadTracers,
) -> None:
    """Every tool off, each even when another fails to stop."""
    steps = [threads.uninstall, prof.disable, patcher.uninstall]
    if lp is not None:
        steps.insert(2, lp.disable)
    if mem is not None:
        steps.append(mem.disable)
    failed: BaseException | None = None
    for step in steps:
        try:
            step()
        except Exception as exc:
            failed = failed or exc
    if failed is not None:
        raise failed


def _line_profiler(wrap: bool) -> Any:
    from line_profiler import LineProfiler

    claim_tool_id(LineProfiler)
    return LineProfiler(wrap_trace=wrap) if wrap else LineProfiler()  # type: ignore[call-arg]


def _flush(
    channel: Channel,
    profiles: list[cProfile.Profile],
    lp: Any,
    registered: list[tuple[Key, list[int]]],
    mem: MemoryLines | None,
    seen: set[Key],
) -> None:
    pstats_path = os.path.join(channel.folder, PSTATS)
    _dump_merged(profiles, pstats_path)
    channel.emit(EventKind.DEEP_PSTATS, path=pstats_path)
    channel.emit(EventKind.DEEP_SEEN, keys=sorted(seen))
    if lp is not None:
        timings = _line_timings(lp, registered)
        lprof_path = os.path.join(channel.folder, LPROF)
        _write_lprof(lprof_path, timings, lp.timer_unit)
        ns = lp.timer_unit * 1e9
        channel.emit(
            EventKind.DEEP_LINES,
            lprof=lprof_path,
            functions=[
                [f, first, name, [[ln, hits, int(t * ns)] for ln, hits, t in rows]]
                for (f, first, name), rows in timings.items()
            ],
        )
    if mem is not None:
        channel.emit(
            EventKind.DEEP_MEMORY_LINES,
            functions=[
                [
                    real_path(code.co_filename),
                    code.co_firstlineno,
                    code.co_qualname,
                    [[ln, *rec] for ln, rec in sorted(table.items())],
                ]
                for code, table in mem.stats.items()
            ],
        )
    channel.emit(EventKind.DEEP_JITTED, keys=_jitted())


def _dump_merged(profiles: list[cProfile.Profile], path: str) -> None:
    """One pstats file for the main thread and every thread that had its own profiler."""
    import pstats

    stats = pstats.Stats(profiles[0])
    for other in profiles[1:]:
        try:
            stats.add(other)
        except (TypeError, ValueError):  # a thread that never made a call has no stats
            continue
    stats.dump_stats(path)


def _line_timings(
    lp: Any, registered: list[tuple[Key, list[int]]]
) -> dict[Key, list[tuple[int, int, int]]]:
    """line_profiler's ``get_stats`` over the line hashes recorded at registration."""
    cmap = lp.c_code_map
    out: dict[Key, list[tuple[int, int, int]]] = {}
    for key, hashes in registered:
        by_line: dict[int, list[int]] = {}
        for h in hashes:
            for entry in cmap.get(h, {}).values():
                rec = by_line.setdefault(entry["lineno"], [0, 0])
                rec[0] += entry["nhits"]
                rec[1] += entry["total_time"]
        out[key] = sorted((ln, hits, t) for ln, (hits, t) in by_line.items())
    return out


def _write_lprof(path: str, timings: dict[Key, list[tuple[int, int, int]]], unit: float) -> None:
    """The file ``kernprof -l`` writes, readable with ``python -m line_profiler``."""
    import pickle

    from line_profiler import LineStats

    with open(path, "wb") as fh:
        pickle.dump(LineStats(dict(timings), unit), fh, pickle.HIGHEST_PROTOCOL)


def _jitted() -> list[Key]:
    """Functions Numba compiled: their Python lines never ran, whatever the tracers say."""
    numba = sys.modules.get("numba")
    if numba is None:
        return []
    try:
        from numba.core.dispatcher import Dispatcher
    except Exception:
        return []
    found: set[Key] = set()
    for mod in list(sys.modules.values()):
        for value in list(getattr(mod, "__dict__", {}).values()):
            if isinstance(value, Dispatcher):
                code = getattr(value.py_func, "__code__", None)
                if code is not None:
                    found.add((real_path(code.co_filename), code.co_firstlineno, code.co_qualname))
    return sorted(found)
