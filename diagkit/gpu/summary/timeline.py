"""A GPU trace in its raw shape (``ops``) summarized as a GpuSection.

An nsys export and the CUPTI collector both yield GPU operations (kernels,
copies, memsets with device timestamps), the host API calls that launched them
(joined on the correlation id) and host ranges (NVTX, CuPy, diagkit). One
summary serves both, so the two sources cannot disagree on what a number means.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

from diagkit.gpu.summary import attribution
from diagkit.gpu.summary.findings import HOST_DEVICE, SMALL_COPY_BYTES, warnings_for
from diagkit.gpu.summary.ops import ApiCall, Op, RawTrace
from diagkit.gpu.summary.stats import NS, byte_stats, durations
from diagkit.model.gpu import (
    GpuApiCall,
    GpuIdle,
    GpuIdleGap,
    GpuKernel,
    GpuRange,
    GpuRangeKernel,
    GpuRangeKernelRow,
    GpuRangeTransfer,
    GpuSection,
    GpuTransfer,
)
from diagkit.model.kinds import RangeStyle

MAX_GAPS = 10
NO_RANGE = ""


def summarize(trace: RawTrace) -> GpuSection:
    """Everything but the source fields, which the caller knows."""
    sec = GpuSection(devices=list(trace.devices), marks=trace.marks, notes=list(trace.notes))
    start, end = _window(trace)
    sec.window_s = (end - start) / NS
    sec.kernels = _kernels(trace.ops)
    sec.kernel_s = sum((k.time.total_s for k in sec.kernels), 0.0)
    sec.copies, sec.memsets = _transfers(trace.ops)
    sec.copy_s = sum((c.time.total_s for c in sec.copies), 0.0)
    sec.copy_bytes = sum(c.bytes.total for c in sec.copies)
    sec.api_calls = _api_calls(trace.api)
    where = attribution.attribute(trace.ops, trace.api, trace.ranges)
    sec.ranges, sec.outside_ranges = _ranges(trace, where)
    sec.kernels_by_range = _kernels_by_range(trace, where)
    sec.idle = _idle(trace, start, end)
    if trace.ops and trace.ranges and not where.any_attributed:
        sec.notes.append(
            "GPU work could not be tied to ranges: the trace has no CUDA API calls to join on."
        )
    sec.warnings = warnings_for(sec, _small_copies_by_range(trace, where))
    return sec


def _window(trace: RawTrace) -> tuple[int, int]:
    if trace.window is not None:
        return trace.window
    starts = [o.start for o in trace.ops] + [a.start for a in trace.api]
    ends = [o.end for o in trace.ops] + [a.end for a in trace.api]
    starts += [r.start for r in trace.ranges]
    ends += [r.end for r in trace.ranges]
    if not starts:
        return 0, 0
    return min(starts), max(ends)


def _kernels(ops: list[Op]) -> list[GpuKernel]:
    groups: dict[str, list[Op]] = defaultdict(list)
    for o in ops:
        if o.kind == "kernel":
            groups[o.name].append(o)
    total = sum(o.end - o.start for g in groups.values() for o in g) or 1
    out = []
    for name, group in groups.items():
        config = Counter((o.grid, o.block) for o in group).most_common(1)[0][0]
        out.append(
            GpuKernel(
                name=name,
                time=durations([o.end - o.start for o in group]),
                share=sum(o.end - o.start for o in group) / total,
                short_name=group[0].short_name,
                grid=config[0],
                block=config[1],
                registers_per_thread=max(o.registers for o in group),
            )
        )
    out.sort(key=lambda k: (-k.time.total_s, k.name))
    return out


def _transfer(name: str, group: list[Op], total_ns: int) -> GpuTransfer:
    ns = [o.end - o.start for o in group]
    sizes = [o.bytes for o in group]
    t = sum(ns)
    return GpuTransfer(
        operation=name,
        time=durations(ns),
        bytes=byte_stats(sizes),
        share=t / (total_ns or 1),
        bytes_per_s=sum(sizes) / (t / NS) if t else 0.0,
        host_memory=dict(Counter(o.host_memory for o in group if o.host_memory)),
        measured="host" if all(o.host_timed for o in group) else "gpu",
    )


def _transfers(ops: list[Op]) -> tuple[list[GpuTransfer], GpuTransfer | None]:
    copies: dict[str, list[Op]] = defaultdict(list)
    sets: list[Op] = []
    for o in ops:
        if o.kind == "memcpy":
            copies[o.name].append(o)
        elif o.kind == "memset":
            sets.append(o)
    total = sum(o.end - o.start for g in copies.values() for o in g)
    total += sum(o.end - o.start for o in sets)
    out = [_transfer(name, g, total) for name, g in copies.items()]
    out.sort(key=lambda c: (-c.time.total_s, c.operation))
    return out, (_transfer("memset", sets, total) if sets else None)


def _api_calls(calls: list[ApiCall]) -> list[GpuApiCall]:
    groups: dict[str, list[int]] = defaultdict(list)
    for c in calls:
        groups[c.name].append(c.end - c.start)
    total = sum(sum(v) for v in groups.values()) or 1
    out = [GpuApiCall(n, durations(v), sum(v) / total) for n, v in groups.items()]
    out.sort(key=lambda a: (-a.time.total_s, a.name))
    return out


class _Work:
    __slots__ = ("kernels", "transfers")

    def __init__(self) -> None:
        self.kernels: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.transfers: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, o: Op) -> None:
        if o.kind == "kernel":
            k = self.kernels[o.name]
            k[0] += 1
            k[1] += o.end - o.start
        else:
            t = self.transfers[o.name if o.kind == "memcpy" else "memset"]
            t[0] += 1
            t[1] += o.bytes
            t[2] += o.end - o.start

    def fill(self, r: GpuRange) -> None:
        r.kernels = [GpuRangeKernel(n, c, ns / NS) for n, (c, ns) in self.kernels.items()]
        r.kernels.sort(key=lambda k: (-k.total_s, k.name))
        r.transfers = [
            GpuRangeTransfer(n, c, b, ns / NS) for n, (c, b, ns) in self.transfers.items()
        ]
        r.transfers.sort(key=lambda t: (-t.total_s, t.operation))
        r.kernel_count = sum(k.count for k in r.kernels)
        r.kernel_s = sum((k.total_s for k in r.kernels), 0.0)
        copies = [t for t in r.transfers if t.operation != "memset"]
        r.copy_count = sum(t.count for t in copies)
        r.copy_bytes = sum(t.bytes for t in copies)
        r.copy_s = sum((t.total_s for t in copies), 0.0)


def _ranges(
    trace: RawTrace, where: attribution.Attribution
) -> tuple[list[GpuRange], GpuRange | None]:
    keys: dict[tuple[str, RangeStyle], list[int]] = defaultdict(list)
    for r in trace.ranges:
        keys[(r.name, r.style)].append(r.end - r.start)
    work: dict[tuple[str, str], _Work] = defaultdict(_Work)
    outside = _Work()
    for i, o in enumerate(trace.ops):
        enclosing = where.enclosing(i)
        if enclosing is None:
            continue
        if not enclosing:
            outside.add(o)
        for ri in {(trace.ranges[j].name, trace.ranges[j].style) for j in enclosing}:
            work[ri].add(o)
    total = sum(sum(v) for v in keys.values()) or 1
    out = []
    for (name, style), ns in keys.items():
        domain = name.split(":", 1)[0] if ":" in name else ""
        gr = GpuRange(name, style, durations(ns), sum(ns) / total, domain=domain)
        work[(name, style)].fill(gr)
        out.append(gr)
    out.sort(key=lambda r: (-r.time.total_s, r.name))
    rest = None
    if trace.ranges and (outside.kernels or outside.transfers):
        rest = GpuRange("(no range open)", "", durations([]), 0.0)
        outside.fill(rest)
    return out, rest


def _kernels_by_range(trace: RawTrace, where: attribution.Attribution) -> list[GpuRangeKernelRow]:
    if not trace.ranges:
        return []
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, o in enumerate(trace.ops):
        if o.kind != "kernel":
            continue
        inner = where.innermost(i)
        if inner is None:
            continue
        rname = trace.ranges[inner].name if inner >= 0 else NO_RANGE
        groups[(rname, o.name)].append(o.end - o.start)
    total = sum(sum(v) for v in groups.values()) or 1
    rows = [GpuRangeKernelRow(r, k, durations(v), sum(v) / total) for (r, k), v in groups.items()]
    rows.sort(key=lambda x: (-x.time.total_s, x.range, x.kernel))
    return rows


def _small_copies_by_range(trace: RawTrace, where: attribution.Attribution) -> dict[str, list[int]]:
    """Innermost range name -> [count, bytes] of small host<->device copies launched in it."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, o in enumerate(trace.ops):
        if o.kind != "memcpy" or o.name not in HOST_DEVICE or o.bytes >= SMALL_COPY_BYTES:
            continue
        inner = where.innermost(i)
        name = trace.ranges[inner].name if inner is not None and inner >= 0 else NO_RANGE
        acc = out[name]
        acc[0] += 1
        acc[1] += o.bytes
    return out


def _idle(trace: RawTrace, start: int, end: int) -> GpuIdle | None:
    spans = sorted((o.start, o.end) for o in trace.ops if not o.host_timed)
    if not spans:
        return None
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    start, end = min(start, merged[0][0]), max(end, merged[-1][1])
    busy = sum(e - s for s, e in merged)
    window = end - start
    active = merged[-1][1] - merged[0][0]
    gaps = [(start, merged[0][0])] + [(a[1], b[0]) for a, b in itertools.pairwise(merged)]
    gaps.append((merged[-1][1], end))
    gaps = sorted((g for g in gaps if g[1] > g[0]), key=lambda g: g[0] - g[1])[:MAX_GAPS]
    return GpuIdle(
        window_s=window / NS,
        busy_s=busy / NS,
        idle_s=(window - busy) / NS,
        idle_share=(window - busy) / window if window else 0.0,
        first_activity_t=(merged[0][0] - start) / NS,
        last_activity_t=(merged[-1][1] - start) / NS,
        active_idle_share=(active - busy) / active if active else 0.0,
        gaps=[
            GpuIdleGap(
                (s - start) / NS, (e - start) / NS, (e - s) / NS, _open_at(trace, (s + e) // 2)
            )
            for s, e in gaps
        ],
    )


def _open_at(trace: RawTrace, t: int) -> str:
    best = None
    for r in trace.ranges:
        if r.start <= t <= r.end and (best is None or r.start > best.start):
            best = r
    return best.name if best else ""
