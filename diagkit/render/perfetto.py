"""A run as a Chrome/Perfetto trace (Trace Event Format, JSON object form).

Opens in https://ui.perfetto.dev or chrome://tracing. One process track for the
program: a thread track per thread that opened diagkit ranges (slices), a counter
track for resident memory, a track for Numba compiles, and, when the report comes
with an Nsight Systems export, tracks for GPU kernels, copies and NVTX ranges.
Timestamps are microseconds since the program started (GPU tracks: since the GPU
trace's window opened, which is another clock).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diagkit.model.report import Report
from diagkit.model.store import GPU_TRACKS, TRACE, ReportFolder, write_atomic

MIB = 1024 * 1024
# Synthetic thread ids for tracks that are not threads; far above any real Python ident map.
NUMBA_TID = 1_000_001
LOG_TID = 1_000_002
MEMORY_TID = 1_000_000
GPU_TIDS = {"kernel": 1_000_010, "memcpy": 1_000_011, "memset": 1_000_012}
GPU_NAMES = {"kernel": "GPU kernels", "memcpy": "GPU copies", "memset": "GPU memsets"}


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def _meta(pid: int, tid: int, name: str, sort: int) -> list[dict[str, Any]]:
    return [
        {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}},
        {
            "ph": "M",
            "name": "thread_sort_index",
            "pid": pid,
            "tid": tid,
            "args": {"sort_index": sort},
        },
    ]


def trace_events(report: Report, out_dir: Path | None = None) -> dict[str, Any]:
    pid = report.target.pid or 1
    label = " ".join(report.target.argv) or "program"
    ev: list[dict[str, Any]] = [
        {
            "ph": "M",
            "name": "process_name",
            "pid": pid,
            "tid": 0,
            "args": {"name": f"diag: {label}"},
        }
    ]
    ev += _ranges(report, pid)
    ev += _memory(report, pid)
    ev += _compiles(report, pid)
    ev += _log_records(report, pid)
    ev += _instants(report, pid)
    gpu_note = _gpu(report, pid, out_dir, ev)
    other = {
        "diagkit_version": report.diagkit_version,
        "created": report.created,
        "command": " ".join(report.command),
        "clock": "microseconds since the program started",
    }
    if gpu_note:
        other["gpu"] = gpu_note
    return {"traceEvents": ev, "displayTimeUnit": "ms", "otherData": other}


def _ranges(report: Report, pid: int) -> list[dict[str, Any]]:
    threads: dict[int, int] = {}
    out: list[dict[str, Any]] = []
    events = sorted(report.ranges.events, key=lambda e: (e.start_t, -(e.end_t - e.start_t)))
    for e in events:
        tid = threads.setdefault(e.thread, len(threads) + 1)
        out.append(
            {
                "ph": "X",
                "name": e.name,
                "cat": "diagkit.range",
                "pid": pid,
                "tid": tid,
                "ts": _us(e.start_t),
                "dur": _us(max(e.end_t - e.start_t, 0.0)),
                "args": {"depth": e.depth},
            }
        )
    meta: list[dict[str, Any]] = []
    for ident, tid in threads.items():
        meta += _meta(pid, tid, f"thread {ident}", tid)
    return meta + out


def _memory(report: Report, pid: int) -> list[dict[str, Any]]:
    m = report.memory
    if not m.available or not m.timeline:
        return []
    out = []
    for p in m.timeline:
        args = {"rss MiB": round(p.rss / MIB, 3)}
        if p.children_rss:
            args["children MiB"] = round(p.children_rss / MIB, 3)
        out.append(
            {
                "ph": "C",
                "name": "memory",
                "pid": pid,
                "tid": MEMORY_TID,
                "ts": _us(p.t),
                "args": args,
            }
        )
    return out


def _compiles(report: Report, pid: int) -> list[dict[str, Any]]:
    comps = sorted(report.jit.compiles, key=lambda c: (c.start_t, -c.inclusive_s))
    if not comps:
        return []
    out = _meta(pid, NUMBA_TID, "Numba compile", 900)
    for c in comps:
        out.append(
            {
                "ph": "X",
                "name": c.function,
                "cat": "numba",
                "pid": pid,
                "tid": NUMBA_TID,
                "ts": _us(c.start_t),
                "dur": _us(c.inclusive_s),
                "args": {
                    "signature": c.signature,
                    "own_s": c.seconds,
                    "ok": c.ok,
                    # the program's line whose call compiled it (outermost compiles only)
                    **({"called_at": f"{c.caller_file}:{c.caller_line}"} if c.caller_file else {}),
                },
            }
        )
    return out


def _log_records(report: Report, pid: int) -> list[dict[str, Any]]:
    """The program's logging records, each an instant on a track of its own."""
    recs = report.logs.records
    if not recs:
        return []
    out = _meta(pid, LOG_TID, "log", 901)
    for r in recs:
        out.append(
            {
                "ph": "i",
                "s": "t",
                "name": f"{r.level} {r.logger}: {r.message}",
                "cat": "log",
                "pid": pid,
                "tid": LOG_TID,
                "ts": _us(r.t),
                "args": {"where": f"{r.file}:{r.line}", "thread": r.thread},
            }
        )
    return out


def _instants(report: Report, pid: int) -> list[dict[str, Any]]:
    out = []
    if report.memory.available and report.memory.peak_rss:
        out.append(
            {
                "ph": "i",
                "s": "p",
                "name": f"peak RSS {report.memory.peak_rss / MIB:.1f} MiB",
                "pid": pid,
                "tid": MEMORY_TID,
                "ts": _us(report.memory.peak_t),
            }
        )
    if report.stacks is not None and report.stacks.taken_t:
        out.append(
            {
                "ph": "i",
                "s": "p",
                "name": f"stacks taken: {report.stacks.reason}",
                "pid": pid,
                "tid": MEMORY_TID,
                "ts": _us(report.stacks.taken_t),
            }
        )
    o = report.outcome
    out.append(
        {
            "ph": "i",
            "s": "p",
            "name": o.detail or o.kind,
            "pid": pid,
            "tid": MEMORY_TID,
            "ts": _us(o.wall_s),
        }
    )
    return out


def _gpu(report: Report, pid: int, out_dir: Path | None, ev: list[dict[str, Any]]) -> str:
    """GPU tracks from the timeline read out of the report's Nsight Systems export, when it
    has one (``store.GPU_TRACKS``, written when the export was summarized)."""
    # "gpu trace": an imported export; "nsys sqlite": one a gpu-trace or profile --gpu run made.
    name = report.files.get("gpu trace") or report.files.get("nsys sqlite") or ""
    if not name.endswith(".sqlite"):
        return ""
    tracks = ReportFolder(out_dir).gpu_tracks() if out_dir is not None else None
    if tracks is None:
        return f"no GPU tracks: the report folder has no {GPU_TRACKS}"
    if tracks.problem:
        return tracks.problem
    t0 = tracks.t0_ns
    kinds = sorted({o.kind for o in tracks.ops})
    for k in kinds:
        ev += _meta(pid, GPU_TIDS.get(k, 1_000_019), GPU_NAMES.get(k, f"GPU {k}"), 950)
    for o in tracks.ops:
        args: dict[str, Any] = (
            {"bytes": o.bytes} if o.kind != "kernel" else {"grid": o.grid, "block": o.block}
        )
        ev.append(
            {
                "ph": "X",
                "name": o.name,
                "cat": f"gpu.{o.kind}",
                "pid": pid,
                "tid": GPU_TIDS.get(o.kind, 1_000_019),
                "ts": (o.start_ns - t0) / 1e3,
                "dur": (o.end_ns - o.start_ns) / 1e3,
                "args": args,
            }
        )
    threads: dict[int, int] = {}
    for r in sorted(tracks.ranges, key=lambda r: (r.start_ns, r.start_ns - r.end_ns)):
        tid = threads.setdefault(r.thread, 1_000_100 + len(threads))
        ev.append(
            {
                "ph": "X",
                "name": r.name,
                "cat": "nvtx",
                "pid": pid,
                "tid": tid,
                "ts": (r.start_ns - t0) / 1e3,
                "dur": (r.end_ns - r.start_ns) / 1e3,
            }
        )
    for thread, tid in threads.items():
        ev += _meta(pid, tid, f"NVTX thread {thread & 0xFFFFFF}", 960)
    return f"GPU tracks from {tracks.source}, timed from its window start"


def write_trace(report: Report, out_dir: Path, name: str = TRACE) -> Path:
    path = out_dir / name
    write_atomic(path, json.dumps(trace_events(report, out_dir), separators=(",", ":")))
    return path
