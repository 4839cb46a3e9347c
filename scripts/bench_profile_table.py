"""bench_profile.py's rows: medians over rounds, the targets as PASS/FAIL, and the Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from bench_profile_modes import DIAG_MODES, Run

# The targets diag profile's default run is held to; a benchmark reports them, never asserts.
WALL_OVER_BARE = 1.10
WALL_OVER_PY_SPY = 1.05
WALL_FROM_S = 1.5  # shorter runs are all start-up: the ratios say little there
ERROR_PTS = 3.0
DRIFT_PTS = 3.0
FIXED_OVER_PY_SPY_S = 0.1

WORKLOAD_HEAD = (
    "workload",
    "target s",
    "mode",
    "bare s",
    "wall × bare",
    "wall × py-spy",
    "program ×",
    "true hot %",
    "error (pts)",
    "split drift (pts)",
    "samples",
    "failed reads",
    "timeline KB/s",
    f"≤{WALL_OVER_BARE:.2f}× bare",
    f"≤{WALL_OVER_PY_SPY:.2f}× py-spy",
    f"error ≤{ERROR_PTS:g}",
    f"drift ≤{DRIFT_PTS:g}",
)
FIXED_HEAD = (
    "script",
    "mode",
    "median s",
    "fixed cost s",
    "over py-spy's s",
    "runs failed",
    f"≤{FIXED_OVER_PY_SPY_S:g} s over py-spy's",
)


def median(runs: Sequence[Run], get: Callable[[Run], float | int | None]) -> float | None:
    values = [v for v in map(get, runs) if v is not None]
    return statistics.median(values) if values else None


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "FAIL")


def _num(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def failed_reads(runs: Sequence[Run]) -> str:
    """The median count, and the median share of reads tried where the sampler says."""
    count = median(runs, lambda r: r.errors)
    share = median(runs, lambda r: r.errors / r.reads if r.reads and r.errors is not None else None)
    return _num(count, ".0f") + (f" ({share * 100:.1f}%)" if share is not None else "")


def errors_pts(runs: Sequence[Run]) -> list[float]:
    """Reported minus true share, per run, in points: each against its own run's truth."""
    return [
        (r.reported - r.share) * 100 for r in runs if r.reported is not None and r.share is not None
    ]


def workload_rows(
    workload: str, seconds: float, runs: dict[str, list[Run]], labels: dict[str, str]
) -> list[tuple[str, ...]]:
    """One row per sampled mode of one workload at one length."""
    bare_wall = median(runs["bare"], lambda r: r.wall)
    raw_wall = median(runs["py-spy"], lambda r: r.wall) if "py-spy" in runs else None
    bare_program = median(runs["bare"], lambda r: r.program)
    bare_share = median(runs["bare"], lambda r: r.share)
    rows = []
    for mode, got in runs.items():
        if mode == "bare":
            continue
        wall = median(got, lambda r: r.wall)
        share = median(got, lambda r: r.share)
        errs = errors_pts(got)
        err = statistics.median(errs) if errs else None
        drift = (share - bare_share) * 100 if share is not None and bare_share is not None else None
        rate = median(got, lambda r: r.timeline_bytes / r.wall if r.timeline_bytes else None)
        over_bare, over_raw = _ratio(wall, bare_wall), _ratio(wall, raw_wall)
        judged = mode in DIAG_MODES
        judged_wall = judged and seconds >= WALL_FROM_S
        rows.append(
            (
                workload,
                f"{seconds:g}",
                labels[mode],
                _num(bare_wall, ".2f"),
                _num(over_bare, ".3f"),
                _num(over_raw, ".3f"),
                _num(_ratio(median(got, lambda r: r.program), bare_program), ".3f"),
                _num(share * 100 if share is not None else None, ".1f"),
                f"{err:+.1f} (max {max(errs, key=abs):+.1f})" if errs else "—",
                _num(drift, "+.1f"),
                _num(median(got, lambda r: r.samples), ".0f"),
                failed_reads(got),
                _num(rate / 1024 if rate is not None else None, ".1f"),
                verdict(over_bare <= WALL_OVER_BARE if judged_wall and over_bare else None),
                verdict(over_raw <= WALL_OVER_PY_SPY if judged_wall and over_raw else None),
                verdict(abs(err) <= ERROR_PTS if judged and err is not None else None),
                verdict(abs(drift) <= DRIFT_PTS if judged and drift is not None else None),
            )
        )
    return rows


def cpu_basis_note(
    workload: str, seconds: float, runs: dict[str, list[Run]], labels: dict[str, str]
) -> str | None:
    """For a workload whose truth counts threads running or runnable: the errors against its
    CPU time alone, the other reading of a threaded program's share (None for the rest)."""
    bare = median(runs["bare"], lambda r: r.cpu_share)
    if bare is None:
        return None
    parts = []
    for mode, got in runs.items():
        errs = [
            (r.reported - r.cpu_share) * 100
            for r in got
            if r.reported is not None and r.cpu_share is not None
        ]
        if errs:
            parts.append(f"{labels[mode]} {statistics.median(errs):+.1f}")
    return f"- {workload}, {seconds:g} s (true hot {bare * 100:.1f}% bare): " + ", ".join(parts)


def fixed_costs(runs: dict[str, list[Run]]) -> dict[str, float | None]:
    """Each mode's median wall minus bare's, over the runs that succeeded."""
    walls = {
        m: median([r for r in got if not r.failed], lambda r: r.wall) for m, got in runs.items()
    }
    bare = walls.get("bare")
    return {m: w - bare if w is not None and bare is not None else None for m, w in walls.items()}


def fixed_rows(
    fixed: dict[str, dict[str, list[Run]]], labels: dict[str, str]
) -> list[tuple[str, ...]]:
    """Per script (name -> mode -> runs) and mode: median wall, fixed cost, and diag's fixed
    cost over py-spy's. Where py-spy failed every run of a script (it cannot attach to a
    program that ends at once), its fixed cost on the other scripts stands in, and says so."""
    costs = {script: fixed_costs(runs) for script, runs in fixed.items()}
    rows = []
    for script, runs in fixed.items():
        ref, ref_from = costs[script].get("py-spy"), ""
        if ref is None:
            others = {s: c["py-spy"] for s, c in costs.items() if c.get("py-spy") is not None}
            if others:
                ref_from = min(others, key=lambda s: others[s])
                ref = others[ref_from]
        for mode, got in runs.items():
            wall = median(got, lambda r: r.wall)  # failed runs too: a user waits for them
            fixed_s = costs[script][mode] if mode != "bare" else None
            over = fixed_s - ref if fixed_s is not None and ref is not None else None
            over = over if mode in DIAG_MODES else None
            over_text = _num(over, "+.3f") + (
                f" (py-spy's on {ref_from})" if over is not None and ref_from else ""
            )
            rows.append(
                (
                    script,
                    labels[mode],
                    _num(wall, ".3f"),
                    _num(fixed_s, "+.3f"),
                    over_text,
                    f"{sum(r.failed for r in got)}/{len(got)}",
                    verdict(over <= FIXED_OVER_PY_SPY_S if over is not None else None),
                )
            )
    return rows


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def tally(rows: Sequence[Sequence[str]], labels: dict[str, str]) -> list[str]:
    """Per diag mode and target: how many judged rows pass."""
    out = []
    for mode in DIAG_MODES:
        mine = [r for r in rows if r[2] == labels[mode]]
        parts = []
        for col in range(len(WORKLOAD_HEAD) - 4, len(WORKLOAD_HEAD)):
            judged = [r[col] for r in mine if r[col] != "—"]
            parts.append(f"{WORKLOAD_HEAD[col]} {judged.count('PASS')}/{len(judged)}")
        out.append(f"- {labels[mode]}: " + ", ".join(parts))
    return out
