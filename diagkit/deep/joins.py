"""Join the tracers pass to the sampled one, and say when the two runs did different work.

Both are runs of the same program, so their functions should match: the
sampled pass names a function by its qualified name and some line the samples
saw, cProfile by (file, first line, co_name); the code index of the file maps
one to the other. Divergence is judged on facts that tracing cannot change: how
the run ended, which of the program's functions ran at all, and the wall time,
and the user CPU time, which a tracer only ever adds to.
"""

from __future__ import annotations

from typing import Any

from diagkit._paths import real_path
from diagkit.deep.results import PstatsKey, pstats_key_for, real_keys
from diagkit.deep.targets import is_user_file
from diagkit.model.report import Outcome, TimeSection

HOT_TOTAL_SHARE = 0.05  # sampled functions this hot must have run in the tracers pass
UNSAMPLED_SHARE = 0.20  # a tracers-pass function this big must have been sampled
FASTER_RATIO = 0.5  # tracers never make a run need this much less CPU
# User CPU, not wall time: page faults and a busy machine move wall time by 2x and more here.
MIN_CPU_S = 0.5  # shorter runs are mostly start-up
MIN_SAMPLES = 100  # with fewer, a function can miss every sample by chance


def fill_calls(time: TimeSection, stats: dict[PstatsKey, Any]) -> tuple[int, set[PstatsKey]]:
    """Set ``calls`` on each sampled Python function cProfile saw; returns the count and the keys."""
    by_real = real_keys(stats)
    matched: set[PstatsKey] = set()
    for f in time.functions:
        if f.kind != "python" or not f.file:
            continue
        key = pstats_key_for(f.name, f.file, f.line)
        orig = by_real.get(key) if key is not None else None
        if orig is None:
            continue
        f.calls = int(stats[orig][1])
        matched.add(orig)
    return len(matched), matched


def sampled_keys(speedscope: dict[str, Any] | None) -> set[PstatsKey] | None:
    """The cProfile key of every user function in any sample (not only the tables' top ones)."""
    if speedscope is None:
        return None
    out: set[PstatsKey] = set()
    for fr in speedscope.get("shared", {}).get("frames", []):
        file = fr.get("file") or ""
        if is_user_file(file):
            key = pstats_key_for(fr.get("name", ""), file, int(fr.get("line") or 0))
            if key is not None:
                out.add(key)
    return out


def divergence(
    sampled: Outcome,
    time: TimeSection,
    deep: Outcome,
    stats: dict[PstatsKey, Any],
    jit_disabled: bool,
    pass_name: str,
    in_samples: set[PstatsKey] | None,
) -> list[str]:
    out: list[str] = []
    if (sampled.kind, sampled.exit_code) != (deep.kind, deep.exit_code):
        out.append(
            f"the {pass_name} pass ended differently: {deep.detail or deep.kind} "
            f"(sampled pass: {sampled.detail or sampled.kind})"
        )
    if (
        not jit_disabled
        and sampled.cpu_user_s >= MIN_CPU_S
        and deep.cpu_user_s < FASTER_RATIO * sampled.cpu_user_s
    ):
        out.append(
            f"the {pass_name} pass used {deep.cpu_user_s:.2f} s of CPU against "
            f"{sampled.cpu_user_s:.2f} s sampled: tracing only adds work, so it did less"
        )
    if not stats or not time.available:
        return out
    by_real = real_keys(stats)
    missing = []
    for f in time.functions:
        if f.kind != "python" or f.total_share < HOT_TOTAL_SHARE or not is_user_file(f.file):
            continue
        key = pstats_key_for(f.name, f.file, f.line)
        if key is not None and key not in by_real:
            missing.append(f.name)
    if missing:
        out.append(
            f"hot in the sampled pass but never called in the {pass_name} pass: "
            + ", ".join(missing[:5])
        )
    # Under --no-jit the tracers pass runs compiled code as Python, many times slower: a function
    # around it takes a share of that pass the sampled one never gave it, by design.
    if time.samples < MIN_SAMPLES or jit_disabled:
        return out
    seen: set[PstatsKey | None] = (
        set(in_samples)
        if in_samples is not None
        else {pstats_key_for(f.name, f.file, f.line) for f in time.functions}
    )
    total = max((v[3] for v in stats.values()), default=0.0)
    unsampled = []
    for (file, line, name), v in stats.items():
        k = (real_path(file), line, name)
        if file == "~" or not is_user_file(file) or k in seen or total <= 0:
            continue
        if v[3] / total >= UNSAMPLED_SHARE:
            unsampled.append(f"{name} ({v[3] / total:.0%} of the {pass_name} pass's time)")
    if unsampled:
        out.append(
            f"in none of the sampled pass's {time.samples:,} samples, yet cProfile timed "
            f"them in the {pass_name} pass: " + ", ".join(unsampled[:5])
        )
    return out
