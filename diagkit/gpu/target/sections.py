"""Turn what the in-process collector gathered into a GpuSection, for each of its sources."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from diagkit.gpu.summary.findings import dropped_warning, warnings_for
from diagkit.gpu.summary.ops import ApiCall, RawTrace
from diagkit.gpu.summary.stats import NS
from diagkit.gpu.summary.timeline import summarize
from diagkit.gpu.target.host_ranges import RangeBook
from diagkit.model.gpu import (
    GpuDevice,
    GpuDurationStats,
    GpuMemory,
    GpuRange,
    GpuRangeTransfer,
    GpuSection,
    GpuTransfer,
)

if TYPE_CHECKING:
    from diagkit.gpu.target.cupti import CuptiCollector
    from diagkit.gpu.target.cupy_hooks import CupyHooks

SOURCE_DETAIL = {
    "cupti": "CUPTI activity records, collected in-process",
    "cupy": "CuPy-level instrumentation: CUDA events around ranges, copies counted at CuPy calls",
    "host": "host timings of NVTX, CuPy and diagkit ranges",
}
CANNOT_SEE = {
    "cupti": [
        "ranges from code that calls the NVTX C library directly (the nvtx package, "
        "cupy.cuda.nvtx and diagkit.range are timed)",
        "GPU work in child processes",
        "CuPy memory-pool peaks between samples (taken at range ends)",
    ],
    "cupy": [
        "kernels: names, counts and device times (install cupti-python to see them)",
        "copies made inside CuPy or other libraries (only asarray, array, asnumpy, "
        "ndarray.get/set/tolist and scalar reads are counted)",
        "device time of copies (the host time of the call is shown)",
        "memsets, and how long the GPU sat idle",
        "GPU work in child processes",
    ],
    "host": ["everything on the GPU"],
}


def ranges_from_book(book: RangeBook) -> list[GpuRange]:
    total = sum(st.total for st in book.stats.values()) or 1
    out = [
        GpuRange(name, style, st.stats(), st.total / total, domain=domain)
        for (name, style, domain), st in book.stats.items()
    ]
    out.sort(key=lambda r: (-r.time.total_s, r.name))
    return out


@dataclass
class Gathered:
    """What the in-process collector holds when the program ends: all a section is built from."""

    mode: str  # cupti | cupy | host: the source that did the tracing
    book: RangeBook
    cupy: CupyHooks
    cupti: CuptiCollector | None  # None unless mode is cupti
    start_clock: int  # when collecting began and ended, on the book's clock
    end_clock: int
    patched: list[str]  # the range APIs that were timed
    notes: list[str]
    gpu_found: bool  # as judged before CUDA was initialized (``inprocess.gpu_visible``)
    gpu_why: str


def build_section(col: Gathered) -> GpuSection:
    cupy = sys.modules.get("cupy") if col.mode in ("cupti", "cupy") else None
    if col.cupti is not None:
        sec = _cupti_section(col, col.cupti)
    else:
        sec = GpuSection(ranges=ranges_from_book(col.book))
        sec.window_s = (col.end_clock - col.start_clock) / NS
        if col.mode == "cupy":
            _add_cupy_copies(sec, col.cupy)
    sec.source = col.mode
    sec.marks = col.book.marks
    sec.source_detail = SOURCE_DETAIL.get(col.mode, col.mode)
    if cupy is not None:
        sec.source_detail += f" (CuPy {getattr(cupy, '__version__', '?')})"
    sec.source_detail += f"; ranges timed from {', '.join(col.patched)}"
    sec.cannot_see = list(CANNOT_SEE.get(col.mode, []))
    sec.notes = [*col.notes, *col.cupy.notes, *sec.notes]
    if col.book.events_dropped:
        sec.notes.append(
            f"{col.book.events_dropped} range instances beyond the first "
            f"{len(col.book.events)} were timed but their GPU work not attributed."
        )
    found, why = col.gpu_found, col.gpu_why
    if cupy is not None:
        try:
            found = int(cupy.cuda.runtime.getDeviceCount()) > 0
            sec.devices = _devices(cupy)
        except Exception as exc:
            found, why = False, f"CuPy found no usable GPU ({type(exc).__name__}: {exc})"
    sec.gpu_found = found
    if not found:
        sec.gpu_status = (
            f"No CUDA GPU was found ({why}). The program ran; the ranges below have host "
            "timings only."
        )
    elif col.mode == "host":
        sec.gpu_status = "GPU work was not traced (host timings of ranges only)."
    elif col.mode == "cupy" and cupy is None:
        sec.gpu_status = (
            "The program never imported CuPy, and without CUPTI only CuPy's work can be "
            "seen: nothing on the GPU was traced."
        )
    else:
        sec.gpu_status = f"GPU traced with {col.mode.upper() if col.mode == 'cupti' else 'CuPy'}."
    if col.cupy.pool_samples:
        sec.memory = GpuMemory(
            pool_used_peak_bytes=col.cupy.pool_used_peak,
            pool_total_peak_bytes=col.cupy.pool_total_peak,
            pool_used_final_bytes=_pool_used(cupy),
            device_total_bytes=sum(d.memory_bytes for d in sec.devices),
            samples=col.cupy.pool_samples,
        )
    return sec


def _cupti_section(col: Gathered, cp: CuptiCollector) -> GpuSection:
    end = col.end_clock
    alias = col.book.thread_alias
    api = [
        ApiCall(a.name, a.start, a.end, alias.get(a.thread, a.thread), a.correlation)
        for a in cp.api
    ]
    last = max((o.end for o in cp.ops), default=end)
    trace = RawTrace(
        ops=sorted(cp.ops, key=lambda o: o.start),
        api=api,
        ranges=col.book.events,
        window=(col.start_clock, max(end, last)),
    )
    sec = summarize(trace)
    sec.records_dropped = cp.dropped
    if col.book.events_dropped:
        # Attribution saw only the kept events; the times must still cover every instance.
        by_key = {(r.name, r.style): r for r in ranges_from_book(col.book)}
        for r in sec.ranges:
            full = by_key.get((r.name, r.style))
            if full is not None:
                r.time, r.share = full.time, full.share
    if sec.records_dropped:
        sec.warnings.append(dropped_warning(sec.records_dropped))
    return sec


def _add_cupy_copies(sec: GpuSection, hooks: CupyHooks) -> None:
    total_ns = sum(ns.total for ns, _ in hooks.copies.values()) or 1
    for direction, (ns, nbytes) in hooks.copies.items():
        sec.copies.append(
            GpuTransfer(
                operation=direction,
                time=ns.stats(),
                bytes=nbytes.byte_stats(),
                share=ns.total / total_ns,
                bytes_per_s=nbytes.total / (ns.total / NS) if ns.total else 0.0,
                measured="host",
            )
        )
    sec.copies.sort(key=lambda c: (-c.time.total_s, c.operation))
    sec.copy_s = sum((c.time.total_s for c in sec.copies), 0.0)
    sec.copy_bytes = sum(c.bytes.total for c in sec.copies)
    for r in sec.ranges:
        _fill_copies(r, hooks.range_copies.get(r.name, {}))
        span = hooks.spans.get(r.name)
        if span is not None and span.count:
            r.gpu_span = span.stats()
    outside = hooks.range_copies.get("")
    if sec.ranges and outside:
        sec.outside_ranges = GpuRange("(no range open)", "", GpuDurationStats(), 0.0)
        _fill_copies(sec.outside_ranges, outside)
    sec.warnings = warnings_for(sec, hooks.small)


def _fill_copies(r: GpuRange, work: dict[str, list[int]]) -> None:
    r.transfers = [GpuRangeTransfer(d, c, b, ns / NS) for d, (c, b, ns) in work.items()]
    r.transfers.sort(key=lambda t: (-t.total_s, t.operation))
    r.copy_count = sum(t.count for t in r.transfers)
    r.copy_bytes = sum(t.bytes for t in r.transfers)
    r.copy_s = sum((t.total_s for t in r.transfers), 0.0)


def _devices(cupy: Any) -> list[GpuDevice]:
    rt = cupy.cuda.runtime
    out = []
    for i in range(int(rt.getDeviceCount())):
        p = rt.getDeviceProperties(i)
        name = p.get("name", b"")
        name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        out.append(
            GpuDevice(
                id=i,
                name=name,
                compute_capability=f"{p.get('major', '?')}.{p.get('minor', '?')}",
                memory_bytes=int(p.get("totalGlobalMem", 0)),
                multiprocessors=int(p.get("multiProcessorCount", 0)),
            )
        )
    return out


def _pool_used(cupy: Any) -> int:
    try:
        return int(cupy.get_default_memory_pool().used_bytes())
    except Exception:
        return 0
