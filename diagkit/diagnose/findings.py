"""Findings: what a Report's sections say to fix first, each with its evidence and advice.

Every rule reads the sections a run already has and returns at most one finding; the list
is ranked by severity, then by the seconds at stake. The thresholds are the ones a reader
would act on; a plain loop must raise no compile, import or memory alarm (its hot function
is a true finding).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from diagkit.collectors.compile_fold import UNRECORDED
from diagkit.diagnose.cpu_findings import gil_bound, oversubscribed
from diagkit.diagnose.dask_findings import dask_findings
from diagkit.model.findings import Evidence, Finding
from diagkit.model.kinds import Severity
from diagkit.model.report import FunctionTime, Report
from diagkit.render.units import fmt_bytes, fmt_s, short_path

COMPILE_SHARE = 0.15  # of the wall time: a compile at least this big is worth a change
IMPORT_SHARE = 0.20  # of the wall time
GC_SHARE = 0.03  # of the wall time: pauses a reader can win back
WAIT_SHARE = 0.30  # of the wall time, the main thread's waits
HOT_SHARE = 0.50  # of the program's own (sampled, not waiting) time
PEAK_OVER_MEAN = 2.0  # a peak this many times the mean resident memory is a spike
PEAK_MIN_BYTES = 256 << 20  # below this, a spike costs nobody anything
MIN_WALL_S = 0.2  # shorter runs are start-up: no finding about their time
# NumPy's floating-point RuntimeWarnings (a NaN or inf made where the program did arithmetic)
# and diagkit.check_finite's NumericWarning.
INVALID = re.compile(
    r"invalid value|divide by zero|overflow encountered|values are not finite", re.I
)
_NUMERIC = ("RuntimeWarning", "NumericWarning")
# The compiler's own code: time there is a compile (the compile rule speaks for it).
_COMPILER = re.compile(r"[/\\](numba|llvmlite)[/\\]")
_RANK: dict[Severity, int] = {"high": 0, "medium": 1, "low": 2}


def diagnose(report: Report) -> list[Finding]:
    """Every rule's finding, most urgent first."""
    rules: list[Callable[[Report], Finding | None]] = [
        numba_compile,
        slow_imports,
        hot_function,
        waiting,
        invalid_values,
        memory_peak,
        gc_pauses,
        oversubscribed,
        gil_bound,
    ]
    found = [f for rule in rules if (f := rule(report)) is not None]
    found += gpu_findings(report) + dask_findings(report)
    return sorted(found, key=lambda f: (_RANK[f.severity], -f.at_stake_s))


def numba_compile(r: Report) -> Finding | None:
    jit, wall = r.jit, r.outcome.wall_s
    if not jit.available or wall < MIN_WALL_S:
        return None
    if not jit.functions:
        return cache_loads(r)
    # The run's time at stake: while any compile ran (overlapping compiles count once).
    covered = jit.compiling_s() or jit.total_compile_s
    share = covered / wall
    if share < COMPILE_SHARE:
        return cache_loads(r)
    top = max(jit.functions, key=lambda f: f.compile_s)
    hits = sum(f.cache_hits for f in jit.functions)
    compiles = sum(f.compiles for f in jit.functions)
    cache = (
        f"{hits} of {hits + compiles} loads came from Numba's cache"
        if hits
        else "nothing came from Numba's cache (cache=True not set, a first run, or a stale cache)"
    )
    advice = [
        f"add cache=True to @njit on {top.function} so later runs load it",
        "or call it once on small inputs of the same types before the timed work",
    ]
    if top.compiles > 1:
        advice.append(
            f"it compiled {top.compiles} times for {len(top.signatures)} signatures: pass "
            "the same dtypes and layouts (or declare one signature) to compile once"
        )
    return Finding(
        kind="numba-compile",
        severity="high" if share >= 2 * COMPILE_SHARE else "medium",
        message=(
            f"Numba compiled during {fmt_s(covered)} of the run ({share:.0%}; "
            f"{fmt_s(jit.total_compile_s)} of compiling in all), "
            f"most of it {top.function} ({fmt_s(top.compile_s)}, {top.compiles} compile"
            f"{'s' if top.compiles != 1 else ''}); {cache}"
        ),
        advice="; ".join(advice),
        where=top.function,
        at_stake_s=covered,
        evidence=[
            Evidence("seconds compiling", round(covered, 4), "s"),
            Evidence("compile seconds, all threads", round(jit.total_compile_s, 4), "s"),
            Evidence("share of the wall time", round(share, 4), "share"),
            Evidence("functions compiled", len(jit.functions), "count"),
            Evidence("compiles", compiles, "count"),
            Evidence("cache hits", hits, "count"),
        ],
    )


def cache_loads(r: Report) -> Finding | None:
    """Time inside Numba's dispatcher where no compile was heard: loads from its cache."""
    wall = r.outcome.wall_s
    rows = [f for f in r.time.functions if f.name == UNRECORDED]
    if not r.time.available or not rows or wall < MIN_WALL_S:
        return None
    row = rows[0]
    # The row's seconds are summed over threads; the run's own at stake is at most its wall.
    seconds = min(row.total_s, wall)
    if seconds / wall < COMPILE_SHARE:
        return None
    hits = sum(f.cache_hits for f in r.jit.functions)
    return Finding(
        kind="numba-compile",
        severity="medium",
        message=(
            f"Numba's dispatcher held {row.total_share:.0%} of the sampled work "
            f"({fmt_s(row.total_s)}) with no compile heard: loading functions from its "
            f"cache{f' ({hits} cache hits)' if hits else ''}"
        ),
        advice=(
            "a load from the cache is paid once per process and function signature: keep "
            "one process for many fits (a loop, a pool started once) rather than one per fit, "
            "and fewer signatures; NUMBA_DEBUG_CACHE=1 prints each load"
        ),
        where=UNRECORDED,
        at_stake_s=seconds,
        evidence=[
            Evidence("sampled seconds in the dispatcher", round(row.total_s, 4), "s"),
            Evidence("share of the sampled work", round(row.total_share, 4), "share"),
            Evidence("cache hits", hits, "count"),
        ],
    )


def slow_imports(r: Report) -> Finding | None:
    imp, wall = r.time.imports, r.outcome.wall_s
    if imp is None or not imp.modules or wall < MIN_WALL_S or imp.total_s / wall < IMPORT_SHARE:
        return None
    share = imp.total_s / wall
    named = ", ".join(f"{m.name} {fmt_s(m.seconds)}" for m in imp.modules[:3])
    top = imp.modules[0]
    inner = (
        f"; within {top.name}, {top.slowest[0].name} {fmt_s(top.slowest[0].seconds)}"
        if top.slowest
        else ""
    )
    return Finding(
        kind="imports",
        severity="high" if share >= 0.5 else "medium",
        message=f"imports took {fmt_s(imp.total_s)} ({share:.0%} of the run): {named}{inner}",
        advice=(
            f"import {top.name} inside the function that needs it, or only where it is used; "
            "a script run many times pays this each time (python -X importtime lists them all)"
        ),
        where=top.name,
        at_stake_s=imp.total_s,
        evidence=[
            Evidence("import seconds", round(imp.total_s, 4), "s"),
            Evidence("share of the wall time", round(share, 4), "share"),
        ]
        + [Evidence(f"{m.name} seconds", round(m.seconds, 4), "s") for m in imp.modules[:5]],
    )


def hot_function(r: Report) -> Finding | None:
    t = r.time
    if not t.available or not t.functions or r.outcome.wall_s < MIN_WALL_S:
        return None
    active = t.active_s or t.sampled_s
    candidates = [f for f in t.functions if _is_a_hot_function(f)]
    top = max(candidates, key=lambda f: f.own_share, default=None)
    if top is None or top.own_share < HOT_SHARE:
        return None
    lines = [ln for ln in t.lines if ln.file == top.file and ln.function == top.name]
    line = max(lines, key=lambda ln: ln.own_share) if lines else None
    where = f"{top.file}:{line.line if line else top.line}"
    at = f"{short_path(top.file)}:{line.line if line else top.line}"
    seconds = top.own_s or top.own_share * active
    hottest = f", {line.own_share:.0%} on line {line.line} alone" if line and line.own_share else ""
    return Finding(
        kind="hot-function",
        severity="medium",
        message=(
            f"{top.name} ({at}) holds {top.own_share:.0%} of the program's own time "
            f"({fmt_s(seconds)}){hottest}"
        ),
        advice=(
            "this is where a speed-up pays: vectorise its loop with NumPy, move it to "
            "@njit, or call it less often; diag profile --deep times each of its lines"
        ),
        where=where,
        at_stake_s=seconds,
        evidence=[
            Evidence("own share", round(top.own_share, 4), "share"),
            Evidence("own seconds", round(seconds, 4), "s"),
        ]
        + ([Evidence("hottest line's share", round(line.own_share, 4), "share")] if line else []),
    )


def waiting(r: Report) -> Finding | None:
    t, wall = r.time, r.outcome.wall_s
    if r.target.kind == "dask":
        return None  # a worker's main thread is its event loop: waiting is its job
    if not t.available or wall < MIN_WALL_S or t.waiting_s / wall < WAIT_SHARE:
        return None
    share = t.waiting_s / wall
    top = t.waits[0] if t.waits else None
    at = f"{short_path(top.file)}:{top.line}" if top else ""
    most = (
        f", most at {at} ({fmt_s(top.seconds)}" + (f": {top.source}" if top.source else "") + ")"
        if top
        else ""
    )
    return Finding(
        kind="waiting",
        severity="medium",
        message=f"the main thread waited {fmt_s(t.waiting_s)} ({share:.0%} of the run){most}",
        advice=(
            "waiting is not computing: overlap the waits with work (a thread or process pool, "
            "asyncio), or find what the lock, queue or I/O waits for; diag profile --idle keeps "
            "these samples in the tables and the flame graph"
        ),
        where=f"{top.file}:{top.line}" if top else "",
        at_stake_s=t.waiting_s,
        evidence=[
            Evidence("waiting seconds", round(t.waiting_s, 4), "s"),
            Evidence("share of the wall time", round(share, 4), "share"),
        ]
        + [Evidence(f"{w.file}:{w.line}", round(w.seconds, 4), "s") for w in t.waits[:3]],
    )


def _is_a_hot_function(f: FunctionTime) -> bool:
    if f.name == "<module>" or _COMPILER.search(f.file):
        return False  # a script's top level holding the time says nothing about where in it
    # diag's own rows ("[import] x", "[numba compile] f") have findings of their own
    return not f.file.startswith("<") or f.file.startswith("<frozen")


def invalid_values(r: Report) -> Finding | None:
    n = r.numerics
    bad = [w for w in n.warnings if w.category in _NUMERIC and INVALID.search(w.message)]
    if not n.available or not bad:
        return None
    first = min(bad, key=lambda w: w.first_t)
    count = sum(w.count for w in bad)
    more = "+" if any(w.capped for w in bad) else ""
    where = f"{first.file}:{first.line}"
    at = f"{short_path(first.file)}:{first.line}"
    return Finding(
        kind="invalid-values",
        severity="high",
        message=(
            f"{count:,}{more} NaN/inf warnings: the first at {at} after {fmt_s(first.first_t)} "
            f"({first.message})"
        ),
        advice=(
            "an estimate computed from a NaN or inf is wrong, not slow: check the inputs at "
            f"{at} (np.isfinite), or make NumPy raise there with np.seterr(all='raise') "
            "to stop at the first one"
        ),
        where=where,
        evidence=[
            Evidence("warnings", count, "count"),
            Evidence("places", len(bad), "count"),
            Evidence("first after", round(first.first_t, 4), "s"),
        ],
    )


def memory_peak(r: Report) -> Finding | None:
    m = r.memory
    pts = m.timeline
    if not m.available or len(pts) < 3 or m.peak_rss < PEAK_MIN_BYTES:
        return None
    # The mean over time, each point standing for the interval up to the next one.
    spans = [(b.t - a.t, a.rss + a.children_rss) for a, b in pairwise(pts)]
    total_t = sum(dt for dt, _ in spans)
    if total_t <= 0:
        return None
    mean = sum(dt * v for dt, v in spans) / total_t
    ratio = m.peak_rss / mean if mean else 0.0
    if ratio < PEAK_OVER_MEAN:
        return None
    allocs = r.deep.allocations if r.deep is not None else None
    site = max(allocs.sites, key=lambda x: x.bytes) if allocs and allocs.sites else None
    where = f"{site.file}:{site.line}" if site else f"t={m.peak_t:.2f} s"
    # --deep's tracemalloc pass: the line whose allocations were live near the traced peak.
    made = (
        f"; near the peak, {fmt_bytes(site.bytes)} live from {short_path(site.file)}:{site.line}"
        + (f" ({site.source})" if site.source else "")
        if site
        else ""
    )
    return Finding(
        kind="memory-peak",
        severity="medium",
        message=(
            f"memory peaked at {fmt_bytes(m.peak_rss)} after {fmt_s(m.peak_t)}, "
            f"{ratio:.1f}× the run's mean of {fmt_bytes(mean)}{made}"
        ),
        advice=(
            "a short spike sets the machine a run needs: "
            + (
                f"free or reuse the large temporaries made at {short_path(site.file)}:{site.line}"
                if site
                else "diag profile --deep names the lines that allocated it; free or reuse the "
                "large temporaries made there"
            )
            + " (out=, in-place operations, chunks)"
        ),
        where=where,
        evidence=[
            Evidence("peak", m.peak_rss, "bytes"),
            Evidence("mean", round(mean), "bytes"),
            Evidence("peak over mean", round(ratio, 3), "ratio"),
            Evidence("peak after", round(m.peak_t, 4), "s"),
        ]
        + ([Evidence("live from the line near the peak", site.bytes, "bytes")] if site else []),
    )


def gc_pauses(r: Report) -> Finding | None:
    g, wall = r.gc, r.outcome.wall_s
    if not g.available or wall < MIN_WALL_S or g.total_pause_s / wall < GC_SHARE:
        return None
    share = g.total_pause_s / wall
    worst = max(range(len(g.pause_s)), key=lambda i: g.pause_s[i])
    per_gen = ", ".join(
        f"gen {i}: {n:,} in {fmt_s(s)}"
        for i, (n, s) in enumerate(zip(g.collections, g.pause_s, strict=False))
    )
    return Finding(
        kind="gc-pauses",
        severity="high" if share >= 0.15 else "medium",
        message=(
            f"garbage collection paused the program for {fmt_s(g.total_pause_s)} "
            f"({share:.0%} of the run; {per_gen}; longest {fmt_s(max(g.longest_s))})"
        ),
        advice=(
            "many short-lived objects that refer to each other: keep the data in arrays, "
            "or raise the threshold (gc.set_threshold(50_000, 50, 100)) or gc.freeze() "
            "after building long-lived structures"
            + ("" if worst == 0 else "; the oldest generation's full collections cost most")
        ),
        where=f"generation {worst}",
        at_stake_s=g.total_pause_s,
        evidence=[
            Evidence("pause seconds", round(g.total_pause_s, 4), "s"),
            Evidence("share of the wall time", round(share, 4), "share"),
        ]
        + [Evidence(f"gen {i} collections", n, "count") for i, n in enumerate(g.collections)],
    )


def gpu_findings(r: Report) -> list[Finding]:
    """The GPU summary's warnings, in the same list."""
    if r.gpu is None:
        return []
    return [
        Finding(
            kind="gpu",
            severity="medium",
            message=w.message,
            advice="see the GPU section of the report",
            where=w.range,
            evidence=[Evidence("count", w.count, "count"), Evidence("bytes", w.bytes, "bytes")],
        )
        for w in r.gpu.warnings
    ]
