"""Turn what the deep collectors wrote (channel records, the pstats file) into report sections."""

from __future__ import annotations

import linecache
import pstats
from typing import Any

from diagkit._paths import is_own_file, real_path
from diagkit.collectors.sample_stacks import is_library_file
from diagkit.deep.codeindex import at_first_line, containing, index_file
from diagkit.deep.targets import Target, is_user_file
from diagkit.model.deep import (
    AllocFrame,
    AllocSection,
    AllocSite,
    CallEdge,
    CallStat,
    LineHits,
    LineProfile,
    MemoryLine,
    MemoryLineProfile,
)

TOP_CALLS = 40
TOP_EDGES = 8
TOP_SITES = 20

PstatsKey = tuple[str, int, str]


def events_of(events: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if e.get("k") == kind), None)


def _source(file: str, line: int) -> str:
    return linecache.getline(file, line).strip()


# --- cProfile ---------------------------------------------------------------------------------


def is_harness(key: PstatsKey) -> bool:
    """diag's own frames and runpy's, which every pass has and the program never asked for."""
    file, _, name = key
    if file == "~":
        return "_lsprof.Profiler" in name
    return file.endswith(("runpy.py", "<frozen runpy>")) or is_own_file(real_path(file))


def load_pstats(path: str) -> dict[PstatsKey, Any]:
    """cProfile's table, cut to what the program ran: what its code reached from its start."""
    try:
        raw = pstats.Stats(path).stats  # type: ignore[attr-defined]
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    callees: dict[PstatsKey, list[PstatsKey]] = {}
    roots = []
    for key, (*_, callers) in raw.items():
        for caller in callers:
            callees.setdefault(caller, []).append(key)
        started_by_harness = any(is_harness(c) for c in callers)
        if is_harness(key):
            continue
        program_start = started_by_harness and ("builtins.exec" in key[2] or is_user_file(key[0]))
        # A key no one called is the first call of a thread the program started (its own profiler).
        if program_start or not callers:
            roots.append(key)
    reached = set(roots)
    todo = list(roots)
    while todo:
        for k in callees.get(todo.pop(), []):
            if k not in reached and not is_harness(k):
                reached.add(k)
                todo.append(k)
    keep = reached or {k for k in raw if not is_harness(k)}
    return {k: v for k, v in raw.items() if k in keep}


def _label(key: PstatsKey) -> str:
    file, line, name = key
    if file == "~":
        return name
    info = at_first_line(real_path(file), line, name)
    return info.qualname if info is not None else name


def call_stats(stats: dict[PstatsKey, Any], must: set[PstatsKey]) -> list[CallStat]:
    """The top functions by cumulative time, and every one in ``must``, callers and callees each."""
    callees: dict[PstatsKey, dict[PstatsKey, tuple[int, float]]] = {}
    for key, (_, _, _, _, callers) in stats.items():
        for caller, (_, nc, _, ct) in callers.items():
            callees.setdefault(caller, {})[key] = (nc, ct)
    top = sorted(stats, key=lambda k: -stats[k][3])[:TOP_CALLS]
    keep = list(dict.fromkeys([*top, *(k for k in must if k in stats)]))
    out = []
    for key in keep:
        cc, nc, tt, ct, callers = stats[key]
        ins = [(k, v[1], v[3]) for k, v in callers.items() if not is_harness(k)]
        outs = [(k, n, t) for k, (n, t) in callees.get(key, {}).items() if not is_harness(k)]
        out.append(
            CallStat(
                function=_label(key),
                file=key[0],
                line=key[1],
                calls=nc,
                primitive_calls=cc,
                own_s=tt,
                total_s=ct,
                callers=_edges(ins),
                callees=_edges(outs),
            )
        )
    return out


def _edges(rows: list[tuple[PstatsKey, int, float]]) -> list[CallEdge]:
    rows = sorted(rows, key=lambda r: -r[2])[:TOP_EDGES]
    return [CallEdge(_label(k), k[0], k[1], n, t) for k, n, t in rows]


def pstats_key_for(name: str, file: str, line: int) -> PstatsKey | None:
    """The cProfile key of the function the sampled pass calls ``name`` at ``file:line``."""
    info = containing(real_path(file), name, line)
    if info is None:
        return None
    return (info.file, info.first, info.name)


def real_keys(stats: dict[PstatsKey, Any]) -> dict[PstatsKey, PstatsKey]:
    """cProfile keys by real path (the program may have run a script by a relative name)."""
    return {(real_path(f), ln, n): (f, ln, n) for f, ln, n in stats if f != "~"}


# --- line_profiler ----------------------------------------------------------------------------


def line_profiles(
    targets: list[Target],
    ev: dict[str, Any] | None,
    seen: set[tuple[str, int, str]],
    jitted: set[tuple[str, int, str]],
    jit_disabled: bool,
) -> list[LineProfile]:
    rows: dict[tuple[str, int, str], list[list[int]]] = {}
    for f, first, name, lines in (ev or {}).get("functions", []):
        rows[(real_path(f), first, name)] = lines
    out = []
    for t in targets:
        prof = LineProfile(
            function=t.qualname, file=t.file, line=t.first, reason=t.reason, status="traced"
        )
        data = [r for r in rows.get(t.key, []) if r[1] > 0]
        if (t.jitted or t.key in jitted) and not jit_disabled:
            prof.status = "jitted"
        elif ev is None:
            prof.status = "no results (the pass ended before writing them)"
        elif t.key not in seen:
            prof.status = "not loaded (its file was never compiled or imported)"
        elif not data:
            prof.status = "not called"
        total_ns = sum(r[2] for r in data)
        prof.total_s = total_ns / 1e9
        prof.lines = [
            LineHits(
                line=ln,
                hits=hits,
                seconds=ns / 1e9,
                share=ns / total_ns if total_ns else 0.0,
                source=_source(t.file, ln),
            )
            for ln, hits, ns in sorted(data)
        ]
        out.append(prof)
    return out


def memory_line_profiles(
    targets: list[Target], ev: dict[str, Any] | None, seen: set[tuple[str, int, str]]
) -> list[MemoryLineProfile]:
    rows = {
        (real_path(f), first, name): lines
        for f, first, name, lines in (ev or {}).get("functions", [])
    }
    out = []
    for t in targets:
        prof = MemoryLineProfile(t.qualname, t.file, t.first, status="traced")
        data = rows.get(t.key, [])
        if t.key not in seen:
            prof.status = "not loaded (its file was never compiled or imported)"
        elif not data:
            prof.status = "not called"
        prof.lines = [
            MemoryLine(line=ln, increment=inc, peak_rss=peak, hits=hits, source=_source(t.file, ln))
            for ln, inc, peak, hits in data
        ]
        out.append(prof)
    return out


# --- tracemalloc ------------------------------------------------------------------------------


def alloc_section(ev: dict[str, Any] | None, t0_ns: int) -> AllocSection:
    if ev is None:
        return AllocSection(
            available=False,
            unavailable_reason="the memory pass ended before tracemalloc's results were written",
        )
    sec = AllocSection(
        frames=ev["frames"], traced_peak=ev["peak"], snapshot_bytes=ev["snapshot_bytes"]
    )
    sec.snapshot_t = max(0.0, (ev["snapshot_t"] - t0_ns) / 1e9) if ev["snapshot_t"] else 0.0
    if not ev["groups"]:
        sec.available = False
        sec.unavailable_reason = "the traced heap never reached 8 MiB"
        return sec
    sites: dict[tuple[str, int], AllocSite] = {}
    for frames, size, count in ev["groups"]:
        if frames and is_own_file(real_path(frames[0][0])):
            continue  # the watcher's own snapshot work
        file, line, origin = _site(frames)
        site = sites.get((file, line))
        if site is None:
            site = sites[(file, line)] = AllocSite(file, line, 0, 0, _source(file, line), origin)
        site.bytes += size
        site.count += count
    sec.sites = sorted(sites.values(), key=lambda s: -s.bytes)[:TOP_SITES]
    frames, sec.largest_bytes = ev["largest"]
    chain = _complete(list(reversed(frames)), ev.get("stack", []))
    sec.largest_traceback = [
        AllocFrame(_function_at(f, ln), f, ln, _source(f, ln))
        for f, ln in chain
        if not is_harness((f, ln, ""))
    ]
    return sec


def _complete(frames: list[list[Any]], stack: list[list[Any]]) -> list[list[Any]]:
    """Prefix tracemalloc's few frames (outermost first) with their callers from the main
    thread's stack at the snapshot, when the outermost kept frame's function was on it."""
    if not frames or not stack:
        return frames
    file, line = frames[0]
    name = _function_at(file, line).rsplit(".", 1)[-1]
    for i in range(len(stack) - 1, -1, -1):
        f, _, co_name = stack[i]
        if real_path(f) == real_path(file) and co_name == name:
            return [[sf, sl] for sf, sl, _ in stack[:i]] + frames
    return frames


def _site(frames: list[list[Any]]) -> tuple[str, int, str]:
    """The first frame (innermost first) in the program's code; else the innermost one."""
    if not frames:
        return "<unknown>", 0, ""
    for f, ln in frames:
        if is_user_file(f):
            inner_f, inner_ln = frames[0]
            origin = "" if (inner_f, inner_ln) == (f, ln) else f"{inner_f}:{inner_ln}"
            return f, ln, origin
    f, ln = frames[0]
    return f, ln, ""


def _function_at(file: str, line: int) -> str:
    if is_library_file(file) and not file.endswith(".py"):
        return ""
    best = None
    for info in index_file(real_path(file)):
        if info.first <= line <= info.last and (best is None or info.first >= best.first):
            best = info
    return best.qualname if best is not None else ""
