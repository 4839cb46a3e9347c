"""Run the deep passes after the sampled one and put what they found into the report.

Two passes, because each tracer distorts what the other measures: the tracers
pass (cProfile and line_profiler, plus per-line RSS for ``--memory-lines``)
gives counts, hits and per-line times; the memory pass (tracemalloc alone, which
costs up to 15x on allocation-heavy Python and would swamp line timings) gives
the allocation sites near the peak. Neither is sampled: the time shares stay
those of the sampled pass.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from diagkit.deep import results
from diagkit.deep.config import ENV, DeepConfig, DeepRequest, Key
from diagkit.deep.joins import divergence, fill_calls, sampled_keys
from diagkit.deep.pace import PassPace
from diagkit.deep.targets import (
    Resolution,
    Target,
    hot_targets,
    jitted_targets,
    main_file,
    merge,
    resolve,
)
from diagkit.model.deep import DeepPass, DeepSection
from diagkit.model.report import Report
from diagkit.model.store import LPROF, MEMORY_LOG, PSTATS, TRACERS_LOG
from diagkit.render.units import fmt_s
from diagkit.run.launch import ProfileOptions
from diagkit.run.session import run_profile
from diagkit.target.event_kinds import EventKind

# Each kept frame costs time on every allocation (tracemalloc finds each frame's line
# number by scanning its code), up to 4x the 1-frame cost on call-heavy Python at 3
# frames. Two reach the caller's line through numpy's Python wrappers (np.ones); the
# largest block's callers come from the stack at the snapshot instead.
TRACEMALLOC_FRAMES = 2

SOURCES = {
    "time shares": "sampled pass (py-spy)",
    "calls, callers, callees": "tracers pass (cProfile)",
    "line hits and line times": "tracers pass (line_profiler)",
    "memory by line": "tracers pass (RSS around each line)",
    "allocation sites": "memory pass (tracemalloc)",
}


@dataclass
class Named:
    lines: Resolution
    memory_lines: Resolution

    @property
    def problems(self) -> list[str]:
        return self.lines.problems + self.memory_lines.problems


def resolve_names(req: DeepRequest, kind: str, target: str) -> Named:
    """Resolve ``--lines``/``--memory-lines`` before any pass, so a typo shows at once."""
    return Named(
        resolve(req.lines, "--lines", kind, target),
        resolve(req.memory_lines, "--memory-lines", kind, target),
    )


Say = Callable[[str], None]


def run_deep(
    report: Report, base: ProfileOptions, req: DeepRequest, named: Named, say: Say
) -> DeepSection:
    sec = DeepSection(jit_disabled=req.no_jit, unresolved=named.problems)
    report.deep = sec
    why = _skip_reason(report)
    if why:
        sec.available, sec.unavailable_reason = False, why
        return sec
    extra = [f for f in [main_file(base.kind, base.target)] if f]
    speedscope = _speedscope(report, base.out_dir)  # a long run's file is many MB: read once
    targets = merge(
        named.lines.targets,
        hot_targets(report.time, speedscope),
        jitted_targets(report.time, extra) if req.no_jit else [],
    )
    _tracers_pass(
        report, base, req, targets, named.memory_lines.targets, say, sampled_keys(speedscope)
    )
    if sec.passes[-1].outcome.startswith("interrupted"):
        sec.notes.append("interrupted: the memory pass was not run")
    else:
        _memory_pass(report, base, say)
    sec.sources = {k: v for k, v in SOURCES.items() if k != "memory by line" or sec.memory_lines}
    sec.diverged = bool(sec.divergence)
    return sec


def _speedscope(report: Report, out_dir: Path) -> dict[str, Any] | None:
    name = report.files.get("speedscope")
    try:
        return json.loads((out_dir / name).read_text()) if name else None
    except (OSError, ValueError):
        return None


def _skip_reason(report: Report) -> str:
    if report.outcome.bad_target:
        return "the program could not be started"
    if report.outcome.kind == "interrupted":
        return "the sampled pass was interrupted"
    return ""


def _run(
    base: ProfileOptions, collector: str, cfg: DeepConfig, env: dict[str, str], pace: PassPace
) -> tuple[Report, list[dict[str, Any]], int]:
    got: dict[str, Any] = {}

    def contribute(rep: Report, events: list[dict[str, Any]], t0_ns: int) -> None:
        got.update(events=events, t0=t0_ns)
        for kind, name in ((EventKind.DEEP_PSTATS, PSTATS), (EventKind.DEEP_LINES, LPROF)):
            ev = results.events_of(events, kind)
            src = (ev or {}).get("path") or (ev or {}).get("lprof")
            if src and Path(src).exists():
                shutil.move(src, base.out_dir / name)

    opts = replace(
        base,
        sample=False,
        environment=False,
        collectors=[collector],
        extra_env={**base.extra_env, ENV: cfg.to_env(), **env},
    )
    rep = run_profile(opts, on_tick=pace.tick, contribute=contribute)
    return rep, got.get("events", []), got.get("t0", 0)


def _tracers_pass(
    report: Report,
    base: ProfileOptions,
    req: DeepRequest,
    targets: list[Target],
    mem_targets: list[Target],
    say: Say,
    sampled: set[results.PstatsKey] | None,
) -> None:
    sec = report.deep
    assert sec is not None
    traced = [t for t in targets if req.no_jit or not t.jitted]
    tools = [
        "cProfile",
        *(["line_profiler"] if traced else []),
        *(["RSS by line"] if mem_targets else []),
    ]
    say(
        f"tracers pass: {', '.join(tools)} on {len(traced)} function(s)"
        + (", Numba JIT disabled" if req.no_jit else "")
        + f" (the sampled pass took {fmt_s(report.outcome.wall_s)})"
    )
    log = base.out_dir / TRACERS_LOG
    for stale in (PSTATS, LPROF, TRACERS_LOG):  # a reused --out must not lend old results
        (base.out_dir / stale).unlink(missing_ok=True)
    cfg = DeepConfig(
        lines=[t.key for t in traced], memory_lines=[t.key for t in mem_targets], log=str(log)
    )
    env = {"NUMBA_DISABLE_JIT": "1"} if req.no_jit else {}
    pace = PassPace("tracers", report.outcome.wall_s, say)
    rep, events, _ = _run(base, "diagkit.deep.tracers:start", cfg, env, pace)
    seen, jitted = _keys(events, EventKind.DEEP_SEEN), _keys(events, EventKind.DEEP_JITTED)
    pstats_file = base.out_dir / PSTATS
    stats = results.load_pstats(str(pstats_file)) if pstats_file.exists() else {}
    complete = results.events_of(events, EventKind.DEEP_PSTATS) is not None
    sec.passes.append(
        DeepPass(
            "tracers",
            tools,
            rep.outcome.wall_s,
            rep.outcome.detail,
            rep.outcome.exit_code,
            req.no_jit,
            complete,
        )
    )
    if not complete:
        why = _no_results("tracers", events, TRACERS_LOG)
        sec.notes.append(why)
        say(why)
    _, matched = fill_calls(report.time, stats)
    by_real = results.real_keys(stats)
    wanted = [(t.file, t.first, t.qualname.rsplit(".", 1)[-1]) for t in targets]
    must = matched | {by_real[k] for k in wanted if k in by_real}
    sec.calls = results.call_stats(stats, must)
    sec.lines = results.line_profiles(
        targets, results.events_of(events, EventKind.DEEP_LINES), seen, jitted, req.no_jit
    )
    sec.memory_lines = results.memory_line_profiles(
        mem_targets, results.events_of(events, EventKind.DEEP_MEMORY_LINES), seen
    )
    sec.divergence += divergence(
        report.outcome, report.time, rep.outcome, stats, req.no_jit, "tracers", sampled
    )
    if stats:
        report.files["pstats"] = PSTATS
    if (base.out_dir / LPROF).exists():
        report.files["lprof"] = LPROF
    _keep_log(report, log, "deep_tracers_log")
    if req.no_jit:
        sec.notes.append(
            "the tracers pass ran with NUMBA_DISABLE_JIT=1: jitted functions ran as "
            "Python, so their hot spots carry over but their times do not; the "
            "memory pass ran them compiled, as the sampled pass did"
        )


def _memory_pass(report: Report, base: ProfileOptions, say: Say) -> None:
    sec = report.deep
    assert sec is not None
    say(f"memory pass: tracemalloc ({TRACEMALLOC_FRAMES} frames)")
    log = base.out_dir / MEMORY_LOG
    log.unlink(missing_ok=True)
    cfg = DeepConfig(frames=TRACEMALLOC_FRAMES, log=str(log))
    # --no-jit is for line_profiler, which cannot see inside compiled code; tracemalloc sees
    # what Python allocates either way, and jitted code run as Python under tracemalloc has
    # been seen to take 400 times the sampled pass.
    rep, events, t0 = _run(
        base, "diagkit.deep.allocs:start", cfg, {}, PassPace("memory", report.outcome.wall_s, say)
    )
    ev = results.events_of(events, EventKind.DEEP_ALLOC)
    sec.allocations = results.alloc_section(ev, t0)
    sec.passes.append(
        DeepPass(
            "memory",
            [f"tracemalloc ({TRACEMALLOC_FRAMES} frames)"],
            rep.outcome.wall_s,
            rep.outcome.detail,
            rep.outcome.exit_code,
            False,
            ev is not None,
        )
    )
    if ev is None:
        why = _no_results("memory", events, MEMORY_LOG)
        sec.notes.append(why)
        say(why)
    sec.divergence += divergence(
        report.outcome, report.time, rep.outcome, {}, False, "memory", None
    )
    _keep_log(report, log, "deep_memory_log")


def _no_results(name: str, events: list[dict[str, Any]], log: str) -> str:
    """Why a pass wrote nothing: its collector's own error when it reported one."""
    errors = [e for e in events if e.get("k") == EventKind.COLLECTOR_ERROR]
    if errors:
        cause = f"its collector failed in the program: {errors[0].get('error', '')}"
    else:
        cause = f"the program ended before the results were written (see {log})"
    return f"the {name} pass gave no results: {cause}"


def _keys(events: list[dict[str, Any]], kind: str) -> set[Key]:
    ev = results.events_of(events, kind) or {}
    return {(str(f), int(n), str(q)) for f, n, q in ev.get("keys", [])}


def _keep_log(report: Report, log: Path, name: str) -> None:
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    elif log.exists():
        report.files[name] = log.name
