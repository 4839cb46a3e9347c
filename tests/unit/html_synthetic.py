"""A report the size of a ten-minute run, built without running anything (deterministic)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from diagkit.collectors.flame_tree import flame_tree
from diagkit.model.report import (
    FunctionTime,
    JitCompile,
    JitFunction,
    LineTime,
    MemorySection,
    Outcome,
    RangeEvent,
    RangesSection,
    RangeStat,
    Report,
    RssPoint,
    Target,
    TimeSection,
)

RUN_S = 600.0
RATE = 200


def synthetic_speedscope(samples: int, seed: int = 7) -> dict:
    """Stacks from a fixed random call graph: ~600 functions, depth 4-40, many distinct stacks."""
    rng = random.Random(seed)
    frames = [
        {"name": f"func_{i}", "file": f"/src/pkg/mod_{i % 40}.py", "line": 10 + i % 50}
        for i in range(600)
    ]
    callees = {i: rng.sample(range(600), 4) for i in range(600)}
    stacks = []
    for _ in range(samples):
        depth = rng.randint(4, 40)
        stack, f = [0], 0
        for _ in range(depth):
            f = callees[f][min(3, int(rng.expovariate(1.3)))]
            stack.append(f)
        stacks.append(stack)
    return {
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": "MainThread",
                "samples": stacks,
                "weights": [0.005] * samples,
            }
        ],
    }


def synthetic_report(
    folder: Path, samples: int = 120_000, rss_points: int = 6000, range_events: int = 20_000
) -> Report:
    """Write the stacks into ``folder`` and return a report that points at them."""
    folder.mkdir(parents=True, exist_ok=True)
    speedscope = synthetic_speedscope(samples)
    (folder / "profile.speedscope.json").write_text(json.dumps(speedscope))
    rng = random.Random(3)
    rep = Report(
        "1.0",
        "0.1.0",
        "2026-01-01T00:00:00+00:00",
        ["diag", "profile", "long.py"],
        Target(["long.py"], "script", "/src", "/usr/bin/python3", pid=4242),
        Outcome("exit", 0, wall_s=RUN_S, cpu_user_s=590.0, detail="exited with status 0"),
    )
    rep.files["speedscope"] = "profile.speedscope.json"
    rep.time = TimeSection(
        source="synthetic", rate_hz=RATE, samples=samples, sampled_s=RUN_S, active_s=samples / RATE
    )
    rep.time.flame = flame_tree(speedscope)  # as collecting the run would
    rep.time.functions = [
        FunctionTime(
            f"func_{i}",
            f"/src/pkg/mod_{i % 40}.py",
            10,
            100 - i,
            500 - i,
            (100 - i) / RATE,
            (500 - i) / RATE,
            (100 - i) / samples,
            (500 - i) / samples,
        )
        for i in range(40)
    ]
    rep.time.lines = [
        LineTime(
            f"func_{i}",
            f"/src/pkg/mod_{i % 40}.py",
            10 + k,
            50 - k,
            (50 - k) / RATE,
            (50 - k) / samples,
            source=f"x = step_{k}(x)",
        )
        for i in range(5)
        for k in range(12)
    ]
    pts = [
        RssPoint(
            RUN_S * i / rss_points,
            int(2e9 + 1e9 * abs((i % 1500) - 750) / 750 + rng.random() * 5e7),
        )
        for i in range(rss_points)
    ]
    peak = max(pts, key=lambda p: p.rss)
    rep.memory = MemorySection(peak_rss=peak.rss, peak_t=peak.t, interval_s=0.1, timeline=pts)
    events = []
    for i in range(range_events):
        start = RUN_S * i / range_events
        depth = i % 3
        events.append(
            RangeEvent(
                f"cell {i % 7}" if depth else "bootstrap rep",
                start,
                start + RUN_S / range_events * (0.9 - 0.2 * depth),
                1,
                depth,
            )
        )
    rep.ranges = RangesSection(
        stats=[RangeStat("bootstrap rep", range_events // 3, 200.0, 0.03, 0.02, 0.04)],
        events=events,
    )
    rep.jit.functions = [JitFunction(f"kernel_{i}", 1, 0.5) for i in range(50)]
    rep.jit.compiles = [
        JitCompile(f"kernel_{i}", "(float64[:],)", i * 2.0, 0.5, 0.5) for i in range(50)
    ]
    rep.jit.total_compile_s = 25.0
    return rep
