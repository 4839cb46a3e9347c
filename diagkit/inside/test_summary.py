"""Per test, from a pytest session's report: its seconds (its range), its peak RSS (the RSS
polls inside its range) and its hottest function (the samples whose stack holds the test's
function, by the innermost frame of the project's own code)."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from diagkit.collectors.sample_stacks import by_distinct_stack, is_library_file, work_samples
from diagkit.model.report import Report

TestFunction = tuple[str, str]  # (file, function name) as py-spy names them


@dataclass
class TestRow:
    nodeid: str
    seconds: float
    peak_rss: int = 0
    hottest: str = ""  # "name (file:line)"
    hottest_share: float = 0.0  # of the test's sampled work


def test_rows(
    report: Report, speedscope: dict[str, Any] | None, functions: dict[str, TestFunction]
) -> list[TestRow]:
    """Every test that has a range, slowest first."""
    hottest = _hottest(speedscope, set(functions.values())) if speedscope else {}
    rows = []
    for st in report.ranges.stats:
        if st.name not in functions:
            continue
        row = TestRow(st.name, st.total_s, peak_rss=_peak(report, st.name))
        found = hottest.get(functions[st.name])
        if found is not None:
            row.hottest, row.hottest_share = found
        rows.append(row)
    return sorted(rows, key=lambda r: -r.seconds)


def _hottest(
    speedscope: dict[str, Any], wanted: set[TestFunction]
) -> dict[TestFunction, tuple[str, float]]:
    doc = work_samples(speedscope)
    frames = doc.get("shared", {}).get("frames", [])
    by_short = {(file, name.rsplit(".", 1)[-1]): (file, name) for file, name in wanted}
    own: dict[TestFunction, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
    lines: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))

    def place(stack: tuple[int, ...]) -> tuple[TestFunction, str, str, int] | None:
        frs = [frames[i] for i in stack]
        for i, fr in enumerate(frs):
            test = by_short.get((fr.get("file") or "", (fr.get("name") or "").rsplit(".", 1)[-1]))
            if test is not None:
                leaf = next(
                    (f for f in reversed(frs[i:]) if not is_library_file(f.get("file") or "")),
                    frs[-1],
                )
                return (test, *_where(leaf))
        return None

    for prof in doc.get("profiles", []):
        for stack, (_, w) in by_distinct_stack(prof, 1).items():
            found = place(stack)
            if found is not None:
                test, name, file, line = found
                own[test][name, file] += w
                lines[name, file][line] += w
    out = {}
    for test, counts in own.items():
        total = sum(counts.values())
        (name, file), w = max(counts.items(), key=lambda kv: kv[1])
        line = max(lines[name, file].items(), key=lambda kv: kv[1])[0]
        out[test] = (f"{name} ({os.path.basename(file)}:{line})", w / total if total else 0.0)
    return out


def _where(fr: dict[str, Any]) -> tuple[str, str, int]:
    return fr.get("name") or "?", fr.get("file") or "", int(fr.get("line") or 0)


def _peak(report: Report, name: str) -> int:
    points = report.memory.timeline
    best = 0
    for ev in report.ranges.events:
        if ev.name != name:
            continue
        inside = [p.rss + p.children_rss for p in points if ev.start_t <= p.t <= ev.end_t]
        if not inside:  # shorter than a poll: the last one before it ended
            before = [p.rss + p.children_rss for p in points if p.t <= ev.end_t]
            inside = before[-1:]
        best = max(best, *inside, 0)
    return best
