"""The ``--deep`` part of the terminal summary: passes, call counts, line tables, allocation sites."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from diagkit.model.deep import AllocSection, DeepSection, LineProfile, MemoryLineProfile
from diagkit.model.report import Report
from diagkit.render.terminal.table_fit import Column, fitted_table, table
from diagkit.render.text import printable
from diagkit.render.units import fmt_bytes, fmt_s, short_path

TOP_CALLS = 12
MAX_LINES = 30
TOP_SITES = 8


def render_deep(report: Report, console: Console) -> None:
    sec = report.deep
    if sec is None:
        return
    c = console
    if not sec.available:
        c.print(f"\n[bold]Deep passes[/]: [yellow]skipped[/] — {escape(sec.unavailable_reason)}")
        return
    _passes(sec, c)
    _calls(sec, c)
    for prof in sec.lines:
        _line_table(prof, c)
    for mprof in sec.memory_lines:
        _memory_table(mprof, c)
    if sec.allocations is not None:
        _allocations(sec.allocations, c)


def _passes(sec: DeepSection, c: Console) -> None:
    c.print("\n[bold]Deep passes[/] (run after the sampled one; tracers inflate their times)")
    for p in sec.passes:
        # A pass without results failed, however the program itself ended: say that first.
        state = "" if p.complete else "[bold red]failed, no results[/]: "
        c.print(
            f"  {p.name}: {state}{escape(', '.join(p.tools))} — {fmt_s(p.wall_s)}, "
            f"program {escape(p.outcome)}"
        )
    where = "; ".join(f"{k}: {v}" for k, v in sec.sources.items())
    c.print(f"  [dim]{escape(where)}[/]")
    if sec.diverged:
        c.print("  [bold red]the passes diverged[/]: the deep numbers may describe different work")
        for d in sec.divergence:
            c.print(f"    [red]•[/] {escape(d)}")
    for note in sec.notes:
        c.print(f"  [yellow]note:[/] {escape(note)}")


def _calls(sec: DeepSection, c: Console) -> None:
    if not sec.calls:
        return
    c.print("\n[bold]Calls[/] (tracers pass, cProfile: exact counts; times inflated by tracing)")
    numbers = (Column(h, "number") for h in ("calls", "own", "total"))
    tab = table([*numbers, Column("function"), Column("called most by")])
    shown = [s for s in sec.calls if not _machinery(s.function, s.file)]
    for s in sorted(shown, key=lambda s: -s.total_s)[:TOP_CALLS]:
        calls = (
            f"{s.calls:,}" if s.calls == s.primitive_calls else f"{s.calls:,}/{s.primitive_calls:,}"
        )
        where = f"{short_path(s.file)}:{s.line}" if s.file != "~" else ""
        by = s.callers[0].function if s.callers else ""
        tab.add_row(
            calls,
            fmt_s(s.own_s),
            fmt_s(s.total_s),
            f"{escape(s.function)} [dim]{escape(where)}[/]",
            escape(by),
        )
    c.print(tab)


def _machinery(function: str, file: str) -> bool:
    """Import machinery and exec: in every profile, and never what the reader is after."""
    if file.startswith("<frozen"):
        return True
    return file == "~" and function.endswith(("builtins.exec>", "builtins.__import__>"))


def _line_table(prof: LineProfile, c: Console) -> None:
    head = (
        f"\n[bold]Lines of {escape(prof.function)}[/] [dim]{escape(short_path(prof.file))}:"
        f"{prof.line}[/] ({escape(prof.reason)}"
    )
    if prof.status != "traced":
        hint = " — run with --no-jit to trace it as Python" if prof.status == "jitted" else ""
        c.print(f"{head}): [yellow]{escape(prof.status)}[/]{hint}")
        return
    c.print(f"{head}; {fmt_s(prof.total_s)} traced)")
    cols = [*(Column(h, "number") for h in ("line", "hits", "time", "% fn")), Column("source")]
    # A long function keeps its costliest lines, still in source order.
    keep = sorted(prof.lines, key=lambda ln: -ln.seconds)[:MAX_LINES]
    rows = [
        (str(ln.line), f"{ln.hits:,}", fmt_s(ln.seconds), f"{ln.share:6.1%}", ln.source)
        for ln in sorted(keep, key=lambda ln: ln.line)
    ]
    c.print(fitted_table(c.width, cols, rows))
    if len(prof.lines) > MAX_LINES:
        c.print(f"  [dim]… {len(prof.lines) - MAX_LINES} cheaper lines in report.json[/]")


def _memory_table(prof: MemoryLineProfile, c: Console) -> None:
    head = (
        f"\n[bold]Memory by line of {escape(prof.function)}[/] "
        f"[dim]{escape(short_path(prof.file))}:{prof.line}[/] (RSS after minus before each line)"
    )
    if prof.status != "traced":
        c.print(f"{head}: [yellow]{escape(prof.status)}[/]")
        return
    c.print(head)
    heads = ("line", "increment", "peak RSS", "hits")
    cols = [*(Column(h, "number") for h in heads), Column("source")]
    rows = [
        (str(ln.line), fmt_bytes(ln.increment), fmt_bytes(ln.peak_rss), f"{ln.hits:,}", ln.source)
        for ln in prof.lines[:MAX_LINES]
    ]
    c.print(fitted_table(c.width, cols, rows))


def _allocations(a: AllocSection, c: Console) -> None:
    if not a.available:
        c.print(f"\n[bold]Allocations[/]: [yellow]unavailable[/] — {escape(a.unavailable_reason)}")
        return
    near = a.snapshot_bytes / a.traced_peak if a.traced_peak else 0.0
    c.print(
        f"\n[bold]Allocations[/] (memory pass, tracemalloc): traced peak {fmt_bytes(a.traced_peak)}; "
        f"sites live at {fmt_s(a.snapshot_t)}, {fmt_bytes(a.snapshot_bytes)} ({near:.0%} of the peak)"
    )
    if near < 0.9:
        c.print(
            "  [yellow]the peak was shorter than the snapshot interval: these sites are "
            "from the highest snapshot taken[/]"
        )
    cols = [
        Column("bytes", "number"),
        Column("blocks", "number"),
        Column("site", "path"),
        Column("source"),
    ]
    rows = []
    for s in a.sites[:TOP_SITES]:
        source = Text(printable(s.source))
        if s.origin:
            source.append(f" (inside {printable(short_path(s.origin))})", style="dim")
        rows.append((fmt_bytes(s.bytes), f"{s.count:,}", f"{short_path(s.file)}:{s.line}", source))
    c.print(fitted_table(c.width, cols, rows))
    if a.largest_traceback:
        c.print(f"  largest block {fmt_bytes(a.largest_bytes)}, allocated at:")
        for fr in a.largest_traceback:
            fn = f" in {fr.function}" if fr.function else ""
            c.print(
                f"    [dim]{escape(short_path(fr.file))}:{fr.line}{escape(fn)}[/] {escape(fr.source)}"
            )
