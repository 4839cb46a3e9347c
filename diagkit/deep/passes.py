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
from diagkit.deep.joins import divergence, fill_calls
from diagkit.deep.targets import (
    Resolution,
    Target,
    hot_targets,
    jitted_targets,
    main_file,
    merge,
    resolve,
)
from diagkit.deep.tracers import LPROF, PSTATS
from diagkit.launch import ProfileOptions
from diagkit.report.deep_model import DeepPass, DeepSection
from diagkit.report.model import Report
from diagkit.session import run_profile

# Each kept frame costs time on every allocation (tracemalloc finds each frame's line
# number by scanning its code), up to 4x the 1-frame cost on call-heavy Python at 3
# frames. Two reach the caller's line through numpy's Python wrappers (np.ones); the
# largest block's callers come from the stack at the snapshot instead.
TRACEMALLOC_FRAMES = 2
TRACERS_LOG = "deep-tracers.log"
MEMORY_LOG = "deep-memory.log"

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
Tick = Callable[[float, int], None] | None


def run_deep(
    report: Report, base: ProfileOptions, req: DeepRequest, named: Named, on_tick: Tick, say: Say
) -> DeepSection:
    sec = DeepSection(jit_disabled=req.no_jit, unresolved=named.problems)
    report.deep = sec
    why = _skip_reason(report)
    if why:
        sec.available, sec.unavailable_reason = False, why
        return sec
    extra = [f for f in [main_file(base.kind, base.target)] if f]
    targets = merge(
        named.lines.targets,
        hot_targets(report.time, _speedscope(report, base.out_dir)),
        jitted_targets(report.time, extra) if req.no_jit else [],
    )
    _tracers_pass(report, base, req, targets, named.memory_lines.targets, on_tick, say)
    if sec.passes[-1].outcome.startswith("interrupted"):
        sec.notes.append("interrupted: the memory pass was not run")
    else:
        _memory_pass(report, base, req, on_tick, say)
    sec.sources = {k: v for k, v in SOURCES.items() if k != "memory by line" or sec.memory_lines}
    if len(report.time.threads) > 1:
        sec.notes.append("cProfile and line_profiler trace the main thread only")
    sec.diverged = bool(sec.divergence)
    return sec


def _speedscope(report: Report, out_dir: Path) -> dict[str, Any] | None:
    name = report.files.get("speedscope")
    try:
        return json.loads((out_dir / name).read_text()) if name else None
    except (OSError, ValueError):
        return None


def _skip_reason(report: Report) -> str:
    if report.outcome.detail.startswith("bad target"):
        return "the program could not be started"
    if report.outcome.kind == "interrupted":
        return "the sampled pass was interrupted"
    return ""


def _run(base: ProfileOptions, collector: str, cfg: DeepConfig, env: dict[str, str],
         on_tick: Tick) -> tuple[Report, list[dict[str, Any]], int]:  # fmt: skip
    got: dict[str, Any] = {}

    def contribute(rep: Report, events: list[dict[str, Any]], t0_ns: int) -> None:
        got.update(events=events, t0=t0_ns)
        for kind, name in (("deep_pstats", PSTATS), ("deep_lines", LPROF)):
            ev = results.events_of(events, kind)
            src = (ev or {}).get("path") or (ev or {}).get("lprof")
            if src and Path(src).exists():
                shutil.move(src, base.out_dir / name)

    opts = replace(
        base, sample=False, environment=False, collectors=[collector],
        extra_env={**base.extra_env, ENV: cfg.to_env(), **env},
    )  # fmt: skip
    rep = run_profile(opts, on_tick=on_tick, contribute=contribute)
    return rep, got.get("events", []), got.get("t0", 0)


def _tracers_pass(report: Report, base: ProfileOptions, req: DeepRequest, targets: list[Target],
                  mem_targets: list[Target], on_tick: Tick, say: Say) -> None:  # fmt: skip
    sec = report.deep
    assert sec is not None
    traced = [t for t in targets if req.no_jit or not t.jitted]
    tools = [
        "cProfile",
        *(["line_profiler"] if traced else []),
        *(["RSS by line"] if mem_targets else []),
    ]
    say(f"tracers pass: {', '.join(tools)} on {len(traced)} function(s)"
        + (", Numba JIT disabled" if req.no_jit else ""))  # fmt: skip
    log = base.out_dir / TRACERS_LOG
    for stale in (PSTATS, LPROF, TRACERS_LOG):  # a reused --out must not lend old results
        (base.out_dir / stale).unlink(missing_ok=True)
    cfg = DeepConfig(lines=[t.key for t in traced], memory_lines=[t.key for t in mem_targets],
                     log=str(log))  # fmt: skip
    env = {"NUMBA_DISABLE_JIT": "1"} if req.no_jit else {}
    rep, events, _ = _run(base, "diagkit.deep.tracers:start", cfg, env, on_tick)
    seen, jitted = _keys(events, "deep_seen"), _keys(events, "deep_jitted")
    pstats_file = base.out_dir / PSTATS
    stats = results.load_pstats(str(pstats_file)) if pstats_file.exists() else {}
    complete = results.events_of(events, "deep_pstats") is not None
    sec.passes.append(DeepPass("tracers", tools, rep.outcome.wall_s, rep.outcome.detail,
                               rep.outcome.exit_code, req.no_jit, complete))  # fmt: skip
    _, matched = fill_calls(report.time, stats)
    by_real = results.real_keys(stats)
    wanted = [(t.file, t.first, t.qualname.rsplit(".", 1)[-1]) for t in targets]
    must = matched | {by_real[k] for k in wanted if k in by_real}
    sec.calls = results.call_stats(stats, must)
    sec.lines = results.line_profiles(targets, results.events_of(events, "deep_lines"), seen,
                                      jitted, req.no_jit)  # fmt: skip
    sec.memory_lines = results.memory_line_profiles(
        mem_targets, results.events_of(events, "deep_memory_lines"), seen
    )
    sec.divergence += divergence(report.outcome, report.time, rep.outcome, stats, jitted,
                                 req.no_jit, "tracers")  # fmt: skip
    if stats:
        report.files["pstats"] = PSTATS
    if (base.out_dir / LPROF).exists():
        report.files["lprof"] = LPROF
    _keep_log(report, log, "deep_tracers_log")
    if req.no_jit:
        sec.notes.append("the deep passes ran with NUMBA_DISABLE_JIT=1: jitted functions ran as "
                         "Python, so their hot spots carry over but their times do not")  # fmt: skip


def _memory_pass(
    report: Report, base: ProfileOptions, req: DeepRequest, on_tick: Tick, say: Say
) -> None:
    sec = report.deep
    assert sec is not None
    say(f"memory pass: tracemalloc ({TRACEMALLOC_FRAMES} frames)"
        + (", Numba JIT disabled" if req.no_jit else ""))  # fmt: skip
    log = base.out_dir / MEMORY_LOG
    log.unlink(missing_ok=True)
    cfg = DeepConfig(frames=TRACEMALLOC_FRAMES, log=str(log))
    # Under --no-jit the memory pass runs jitted code as Python too: arrays that compiled code
    # allocates come from Numba's own allocator, which tracemalloc never sees.
    env = {"NUMBA_DISABLE_JIT": "1"} if req.no_jit else {}
    rep, events, t0 = _run(base, "diagkit.deep.allocs:start", cfg, env, on_tick)
    ev = results.events_of(events, "deep_alloc")
    sec.allocations = results.alloc_section(ev, t0)
    sec.passes.append(DeepPass("memory", [f"tracemalloc ({TRACEMALLOC_FRAMES} frames)"],
                               rep.outcome.wall_s, rep.outcome.detail, rep.outcome.exit_code,
                               req.no_jit, ev is not None))  # fmt: skip
    sec.divergence += divergence(report.outcome, report.time, rep.outcome, {}, set(), req.no_jit,
                                 "memory")  # fmt: skip
    _keep_log(report, log, "deep_memory_log")


def _keys(events: list[dict[str, Any]], kind: str) -> set[Key]:
    ev = results.events_of(events, kind) or {}
    return {(str(f), int(n), str(q)) for f, n, q in ev.get("keys", [])}


def _keep_log(report: Report, log: Path, name: str) -> None:
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    elif log.exists():
        report.files[name] = log.name
