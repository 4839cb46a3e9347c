"""The data a report page embeds: the Report itself, with its long series thinned to what a
screen can show, plus the flame tree and the hot functions' source.

The page draws at most a few thousand pixels across, so the memory timeline keeps
the lowest and highest point per pixel column (the peak survives) and range events
too short to see are merged with their neighbours of the same name. The full
series stay in report.json and profile.trace.json.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from diagkit.collectors.flame_tree import flame_tree
from diagkit.model.report import RangeEvent, Report, RssPoint
from diagkit.model.serde import to_dict
from diagkit.render.timeout_lead import lead_lines

PLOT_COLUMNS = 1500
MAX_LANES = 8
MAX_BLOCKS_PER_LANE = 3000
SOURCE_CONTEXT = 3
SOURCE_MAX_LINES = 120
SOURCE_MAX_BYTES = 4 << 20


def page_data(report: Report, out_dir: Path | None) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(report)
    end = _time_span(report)
    data["memory"]["timeline"] = []
    data["ranges"]["events"] = []
    # to_dict: a share or time that is NaN (saved as null) must reach the page as null too.
    data["page"] = to_dict(
        {
            "span_s": end,
            "rss": thin_rss(report.memory.timeline, end),
            "lanes": range_lanes(report.ranges.events, end),
            "flame": _flame(report, out_dir),
            "sources": hot_sources(report),
            "rss_points": len(report.memory.timeline),
            "range_events": len(report.ranges.events),
            "timeout_lead": lead_lines(report),
        }
    )
    return data


def _time_span(report: Report) -> float:
    ends = [report.outcome.wall_s]
    if report.memory.timeline:
        ends.append(report.memory.timeline[-1].t)
    ends += [e.end_t for e in report.ranges.events]
    ends += [c.start_t + c.inclusive_s for c in report.jit.compiles]
    return max([e for e in ends if e == e] or [0.0])


def _flame(report: Report, out_dir: Path | None) -> dict[str, Any] | None:
    name = report.files.get("speedscope")
    if not name or out_dir is None:
        return None
    path = out_dir / name
    try:
        with open(path, encoding="utf-8") as fh:
            speedscope = json.load(fh)
    except (OSError, ValueError):
        return None
    tree = flame_tree(speedscope)
    return tree if tree["total"] else None


def thin_rss(points: list[RssPoint], span: float) -> list[list[float]]:
    """[t, rss, children_rss] rows: every point when few, else the min and max per column."""
    rows = [[p.t, p.rss, p.children_rss] for p in points]
    if len(rows) <= 2 * PLOT_COLUMNS or span <= 0:
        return rows
    buckets: dict[int, list[list[float]]] = defaultdict(list)
    for row in rows:
        buckets[min(PLOT_COLUMNS - 1, int(row[0] / span * PLOT_COLUMNS))].append(row)
    out: list[list[float]] = []
    for col in sorted(buckets):
        group = buckets[col]
        lo = min(group, key=lambda r: r[1] + r[2])
        hi = max(group, key=lambda r: r[1] + r[2])
        out += sorted({id(lo): lo, id(hi): hi}.values(), key=lambda r: r[0])
    return out


def range_lanes(events: list[RangeEvent], span: float) -> dict[str, Any]:
    """One lane per nesting depth; blocks [name index, start, end, count], where a block of
    several ranges too short to see apart has the name index -1 when their names differ."""
    names: dict[str, int] = {}
    by_depth: dict[int, list[RangeEvent]] = defaultdict(list)
    for ev in events:
        by_depth[min(ev.depth, MAX_LANES - 1)].append(ev)
    lanes = []
    for depth in sorted(by_depth):
        evs = sorted(by_depth[depth], key=lambda e: e.start_t)
        gap = span / PLOT_COLUMNS if span > 0 else 0.0
        blocks = _merge(evs, gap, names)
        while len(blocks) > MAX_BLOCKS_PER_LANE and 0 < gap < span:
            gap *= 2
            blocks = _merge(evs, gap, names)
        lanes.append({"depth": depth, "blocks": blocks})
    return {"names": list(names), "lanes": lanes}


def _merge(evs: list[RangeEvent], gap: float, names: dict[str, int]) -> list[list[float]]:
    blocks: list[list[float]] = []
    last_short = False
    for ev in evs:
        idx = names.setdefault(ev.name, len(names))
        short = (ev.end_t - ev.start_t) < gap
        last = blocks[-1] if blocks else None
        if last is not None and short and last_short and ev.start_t - last[2] < gap:
            last[2] = max(last[2], ev.end_t)
            last[3] += 1
            if last[0] != idx:
                last[0] = -1
        else:
            blocks.append([idx, ev.start_t, ev.end_t, 1])
        last_short = short
    return blocks


def hot_sources(report: Report) -> list[dict[str, Any]]:
    """The hot functions' source around their sampled lines: rows [line, text, samples,
    share, own share] (own: the line was the innermost of the program's own code)."""
    groups: dict[tuple[str, str], dict[int, Any]] = defaultdict(dict)
    for ln in report.time.lines:
        groups[(ln.function, ln.file)][ln.line] = ln
    totals = {(f.name, f.file): f.total_share for f in report.time.functions}
    out = []
    for (function, file), hot in groups.items():
        text = _read_source(file)
        rows: list[list[Any] | None] = []
        wanted = _wanted_lines(sorted(hot), len(text)) if text else sorted(hot)
        prev = None
        for n in wanted:
            if prev is not None and n != prev + 1:
                rows.append(None)  # a gap in the listing
            src = text[n - 1] if text and n <= len(text) else hot[n].source if n in hot else ""
            h = hot.get(n)
            own = h.own_of(report.time.samples) if h else 0.0
            rows.append([n, src.rstrip("\n"), h.samples if h else 0, h.share if h else 0.0, own])
            prev = n
        out.append(
            {
                "function": function,
                "file": file,
                "total_share": totals.get((function, file)),
                "lines": rows,
            }
        )
    return out


def _wanted_lines(hot: list[int], n_lines: int) -> list[int]:
    keep: set[int] = set()
    for h in hot:
        keep.update(range(max(1, h - SOURCE_CONTEXT), min(n_lines, h + SOURCE_CONTEXT) + 1))
    # Hot lines first when the listing is cut, so a long function keeps what matters.
    ordered = sorted(keep, key=lambda n: min(abs(n - h) for h in hot))[:SOURCE_MAX_LINES]
    return sorted(ordered)


def _read_source(file: str) -> list[str]:
    # Only Python sources: a frame's file name is whatever the program said it was.
    if not file.endswith(".py") or not os.path.isfile(file):
        return []
    try:
        if os.path.getsize(file) > SOURCE_MAX_BYTES:
            return []
        with open(file, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except OSError:
        return []
