"""The rich terminal rendering of a GpuSection: what the GPU did, where it waited, and what to fix."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from diagkit.model.gpu import GpuRange, GpuSection, GpuTransfer
from diagkit.render.terminal.table_fit import Column, table
from diagkit.render.text import clip, markup
from diagkit.render.units import fmt_bytes, fmt_s

TOP_KERNELS = 15
TOP_RANGES = 20
NAME_WIDTH = 60
_TEXT = ("kernel", "range", "direction", "host memory", "GPU work")


def _short(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def render_gpu(section: GpuSection, console: Console) -> None:
    """Print the section; every part is skipped when it has nothing to show."""
    c, s = console, section
    detail = f" [dim]({markup(s.source_detail)})[/]" if s.source_detail else ""
    c.print(f"\n[bold]GPU[/] source: [bold]{markup(s.source or 'unknown')}[/]{detail}")
    if not s.available:
        c.print(f"  [bold red]not traced[/]: {markup(s.unavailable_reason)}")
    if s.gpu_status:
        style = "bold yellow" if s.gpu_found is False else "dim"
        c.print(f"  [{style}]{markup(s.gpu_status)}[/]")
    for d in s.devices:
        cc = f", compute {markup(d.compute_capability)}" if d.compute_capability else ""
        mem = f", {fmt_bytes(d.memory_bytes)}" if d.memory_bytes else ""
        c.print(f"  device {d.id}: {markup(d.name)}{cc}{mem}")
    _headline(s, c)
    for w in s.warnings:
        c.print(f"  [bold yellow]![/] {markup(w.message)}")
    _kernels(s, c)
    _copies(s, c)
    _ranges(s, c)
    _idle(s, c)
    if s.memory is not None:
        m = s.memory
        c.print(
            f"\n[bold]CuPy memory pool[/] peak in use {fmt_bytes(m.pool_used_peak_bytes)}, "
            f"peak held {fmt_bytes(m.pool_total_peak_bytes)} [dim]({m.samples} samples)[/]"
        )
    for note in s.notes:
        c.print(f"  [yellow]note:[/] {markup(clip(note))}")
    if s.cannot_see:
        c.print("  [dim]This source cannot see: " + markup("; ".join(s.cannot_see)) + "[/]")


def _headline(s: GpuSection, c: Console) -> None:
    parts = []
    if s.window_s:
        parts.append(f"[bold]traced[/] {fmt_s(s.window_s, 'ns')}")
    if s.kernels:
        n = sum(k.time.count for k in s.kernels)
        parts.append(f"[bold]kernels[/] {fmt_s(s.kernel_s, 'ns')} in {n:,} launches")
    if s.copies:
        parts.append(f"[bold]copies[/] {fmt_bytes(s.copy_bytes)} in {fmt_s(s.copy_s, 'ns')}")
    if s.idle is not None:
        parts.append(f"[bold]GPU idle[/] {s.idle.idle_share:.0%}")
    if parts:
        c.print("  " + "   ".join(parts))


def _table(*headers: str) -> Table:
    """Only the GPU work done inside a range, a list, wraps onto more lines."""
    return table(
        [Column(h, "text" if h in _TEXT else "number", wrap=h == "GPU work") for h in headers]
    )


def _kernels(s: GpuSection, c: Console) -> None:
    if not s.kernels:
        return
    c.print(f"\n[bold]Kernels[/] ({len(s.kernels)} names, by total GPU time)")
    tab = _table("share", "total", "calls", "mean", "min", "max", "kernel")
    for k in s.kernels[:TOP_KERNELS]:
        t = k.time
        tab.add_row(
            f"{k.share:6.1%}",
            fmt_s(t.total_s, "ns"),
            f"{t.count:,}",
            fmt_s(t.mean_s, "ns"),
            fmt_s(t.min_s, "ns"),
            fmt_s(t.max_s, "ns"),
            markup(_short(k.name)),
        )
    c.print(tab)
    if len(s.kernels) > TOP_KERNELS:
        c.print(f"  [dim]… {len(s.kernels) - TOP_KERNELS} more in report.json[/]")


def _copies(s: GpuSection, c: Console) -> None:
    rows: list[GpuTransfer] = [*s.copies, *([s.memsets] if s.memsets else [])]
    if not rows:
        return
    host_timed = any(t.measured == "host" for t in rows)
    note = " [dim](host time of the CuPy call)[/]" if host_timed else ""
    c.print(f"\n[bold]Copies and memsets[/]{note}")
    tab = _table("count", "bytes", "mean size", "time", "GB/s", "host memory", "direction")
    for t in rows:
        mem = markup(", ".join(f"{k} {v:,}" for k, v in sorted(t.host_memory.items())))
        rate = f"{t.bytes_per_s / 1e9:.2f}" if t.bytes_per_s else ""
        tab.add_row(
            f"{t.time.count:,}",
            fmt_bytes(t.bytes.total),
            fmt_bytes(t.bytes.mean),
            fmt_s(t.time.total_s, "ns"),
            rate,
            mem,
            markup(t.operation),
        )
    c.print(tab)


def _work(r: GpuRange) -> str:
    parts = []
    if r.kernel_count:
        top = ", ".join(_short(k.name, 28) for k in r.kernels[:2])
        more = "…" if len(r.kernels) > 2 else ""
        parts.append(f"{r.kernel_count:,} kernels {fmt_s(r.kernel_s, 'ns')} ({top}{more})")
    if r.copy_count:
        parts.append(f"{r.copy_count:,} copies {fmt_bytes(r.copy_bytes)} {fmt_s(r.copy_s, 'ns')}")
    if r.gpu_span is not None:
        parts.append(f"GPU span {fmt_s(r.gpu_span.total_s, 'ns')}")
    return markup("; ".join(parts)) if parts else "[dim]–[/]"


def _ranges(s: GpuSection, c: Console) -> None:
    if not s.ranges:
        return
    host_only = s.source == "host" or s.gpu_found is False
    what = "host time" if host_only else "host time, and the GPU work launched inside"
    c.print(f"\n[bold]Ranges[/] ({what})")
    tab = _table("total", "count", "mean", "range", *([] if host_only else ["GPU work"]))
    for r in s.ranges[:TOP_RANGES]:
        cells = [
            fmt_s(r.time.total_s, "ns"),
            f"{r.time.count:,}",
            fmt_s(r.time.mean_s, "ns"),
            markup(_short(r.name, 40)),
        ]
        tab.add_row(*cells, *([] if host_only else [_work(r)]))
    if s.outside_ranges is not None and not host_only:
        tab.add_row("", "", "", "[dim](no range open)[/]", _work(s.outside_ranges))
    c.print(tab)
    if len(s.ranges) > TOP_RANGES:
        c.print(f"  [dim]… {len(s.ranges) - TOP_RANGES} more in report.json[/]")
    if s.marks:
        c.print(f"  [dim]{s.marks:,} NVTX marks[/]")


def _idle(s: GpuSection, c: Console) -> None:
    i = s.idle
    if i is None:
        return
    c.print(
        f"\n[bold]GPU idle[/] {i.idle_share:.0%} of {fmt_s(i.window_s, 'ns')} "
        f"[dim](busy {fmt_s(i.busy_s, 'ns')}; {i.active_idle_share:.0%} idle between the first "
        f"and last activity, {fmt_s(i.first_activity_t, 'ns')} – {fmt_s(i.last_activity_t, 'ns')})[/]"
    )
    for g in i.gaps[:5]:
        during = f" during [bold]{markup(g.during)}[/]" if g.during else ""
        c.print(f"  gap {fmt_s(g.seconds, 'ns'):>10} at {fmt_s(g.start_t, 'ns')}{during}")
