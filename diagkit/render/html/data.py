"""The data a report page embeds: the Report itself, with its long series thinned to what a
screen can show, plus the flame tree and the hot functions' source.

The page draws at most a few thousand pixels across, so the memory timeline keeps
the lowest and highest point per pixel column (the peak survives) and range events
too short to see are merged with their neighbours of the same name. The full
series stay in report.json and profile.trace.json. Everything comes from the Report:
the flame tree and the source were taken into it when the run was collected.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import pairwise
from typing import Any

from diagkit.model.flame import FlameTree
from diagkit.model.report import RangeEvent, Report, RssPoint
from diagkit.model.serde import to_dict
from diagkit.render.timeout_lead import lead_lines

PLOT_COLUMNS = 1500
MAX_LANES = 8
MAX_BLOCKS_PER_LANE = 3000
# The first schema whose reports carry the flame tree and the source around hot lines.
KEPT_FOR_THE_PAGE = (1, 2)


def page_data(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = to_dict(report)
    end = _time_span(report)
    data["memory"]["timeline"] = []
    data["ranges"]["events"] = []
    # Drawn from page.flame and page.sources below; the page need not carry them twice.
    del data["time"]["flame"], data["time"]["sources"]
    flame, damaged = _flame(report.time.flame)
    # to_dict: a share or time that is NaN (saved as null) must reach the page as null too.
    data["page"] = to_dict(
        {
            "span_s": end,
            "rss": thin_rss(report.memory.timeline, end),
            "lanes": range_lanes(report.ranges.events, end),
            "flame": flame,
            "sources": hot_sources(report),
            "rss_points": len(report.memory.timeline),
            "range_events": len(report.ranges.events),
            "timeout_lead": lead_lines(report),
        }
    )
    # Said only where something is missing, so a fresh run's page data is as it always was.
    older = _not_kept(report)
    if damaged or older:
        data["page"]["flame_note"] = damaged or older
    if older:
        data["page"]["sources_note"] = older
    return data


def _time_span(report: Report) -> float:
    ends = [report.outcome.wall_s]
    if report.memory.timeline:
        ends.append(report.memory.timeline[-1].t)
    ends += [e.end_t for e in report.ranges.events]
    ends += [c.start_t + c.inclusive_s for c in report.jit.compiles]
    return max([e for e in ends if e == e] or [0.0])


def _flame(tree: FlameTree | None) -> tuple[dict[str, Any] | None, str]:
    """The tree as the page reads it, or None and why: a hand-edited report.json may hold
    a tree whose nodes point past its functions, which the page could not draw."""
    if tree is None or not tree.total:
        return None, ""
    n, depth = len(tree.func), tree.depth
    # Preorder: one root, and each node at most one level below the node before it.
    whole = n == len(tree.value) == len(depth) and n > 0 and depth[0] == 0
    whole = whole and all(0 < d <= above + 1 for above, d in pairwise(depth))
    if not whole or not all(0 <= f < len(tree.functions) for f in tree.func):
        return None, "the flame graph in report.json is damaged, so it is not drawn"
    return {
        "total": tree.total,
        "pruned_below": tree.pruned_below,
        # Microseconds for a time-weighted run; without it the page would read them as
        # intervals of the rate and print 0.4 s of stacks as 27 minutes.
        "per_second": tree.per_second,
        "funcs": [[f.name, f.file, f.line, f.kind] for f in tree.functions],
        "func": tree.func,
        "value": tree.value,
        "depth": tree.depth,
    }, ""


def _not_kept(report: Report) -> str:
    """What a report saved before the page's parts were kept in it cannot show."""
    m = re.fullmatch(r"(\d+)\.(\d+)", report.schema_version)
    older = m is not None and (int(m[1]), int(m[2])) < KEPT_FOR_THE_PAGE
    if not older or not report.time.available or report.time.flame is not None:
        return ""
    return (
        f"this report was saved by a diag that kept no flame graph and no source around the "
        f"hot lines in report.json (schema {report.schema_version}); profile again to see them"
    )


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
    share, own share] (own: the line was the innermost of the program's own code). A
    function whose file was not read when the run was collected lists its sampled lines."""
    groups: dict[tuple[str, str], dict[int, Any]] = defaultdict(dict)
    for ln in report.time.lines:
        groups[(ln.function, ln.file)][ln.line] = ln
    totals = {(f.name, f.file): f.total_share for f in report.time.functions}
    listed = {(s.function, s.file): s for s in report.time.sources}
    out = []
    for (function, file), hot in groups.items():
        listing = listed.get((function, file))
        if listing is not None:
            text = {row.line: row.text for row in listing.lines}
        else:
            text = {n: h.source.rstrip("\n") for n, h in hot.items()}
        rows: list[list[Any] | None] = []
        prev = None
        for n in sorted(text):
            if prev is not None and n != prev + 1:
                rows.append(None)  # a gap in the listing
            h = hot.get(n)
            own = h.own_of(report.time.samples) if h else 0.0
            rows.append([n, text[n], h.samples if h else 0, h.share if h else 0.0, own])
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
