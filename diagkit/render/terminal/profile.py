"""The rich terminal summary of a Report: the headline first, then each section that has content."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from diagkit.model.report import Report, TimeSection
from diagkit.model.store import REPORT
from diagkit.render.terminal.findings import render_findings
from diagkit.render.terminal.table_fit import Column, fitted_table, table
from diagkit.render.text import clip, markup
from diagkit.render.timeout_lead import lead_lines
from diagkit.render.units import fmt_bytes, fmt_s, short_path

TOP_ROWS = 12


def render(report: Report, console: Console, out_dir: Path | None = None) -> None:
    _headline(report, console)
    render_findings(report, console)
    if report.target.kind != "import":  # an imported trace ran nothing: no CPU-side sections
        _time(report, console)
        _memory(report, console)
        _jit(report, console)
        _ranges(report, console)
        _numerics(report, console)
        _logs(report, console)
    _exception_and_stacks(report, console)
    if report.dask is not None:
        from diagkit.render.terminal.dask import render_dask

        render_dask(report.dask, console)
    if report.gpu is not None:
        from diagkit.render.terminal.gpu import render_gpu

        render_gpu(report.gpu, console)
    if report.deep is not None:
        from diagkit.render.terminal.deep import render_deep

        render_deep(report, console)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {markup(clip(note))}")
    if out_dir is not None and report.files:
        files = " ".join(sorted([REPORT, *report.files.values()]))
        console.print(f"\n[bold]Report[/] {markup(short_path(str(out_dir)))}/ {markup(files)}")


def _title(r: Report) -> str:
    """The command that made the report, as the user would have typed it."""
    if r.target.kind == "import":
        return "diag gpu-trace --import"
    if r.command[1:2] == ["gpu-trace"]:
        return "diag gpu-trace"
    if r.target.kind == "dask":
        return "diag profile --dask"
    return "diag profile"


def _headline(r: Report, c: Console) -> None:
    o = r.outcome
    color = "green" if o.ended_normally() else "red"
    mem = fmt_bytes(r.memory.peak_rss) if r.memory.available else "n/a"
    # A module's argv holds its name alone: "-m" is how it was typed.
    typed = ["-m", *r.target.argv] if r.target.kind == "module" else r.target.argv
    c.rule(f"[bold]{_title(r)}[/] {markup(' '.join(typed))}")
    c.print(
        f"[bold]wall[/] {fmt_s(o.wall_s)}   [bold]cpu[/] {fmt_s(o.cpu_user_s + o.cpu_system_s)}   "
        f"[bold]peak RSS[/] {mem}   [bold]outcome[/] [{color}]{markup(o.detail or o.kind)}[/]"
    )
    lead = lead_lines(r)
    if lead:
        c.print("[bold]At the timeout[/] [dim](each thread in your code, and whether it moved)[/]")
        for line in lead:
            c.print(f"  {markup(line)}")


def _time(r: Report, c: Console) -> None:
    t = r.time
    if not t.available:
        c.print(f"\n[bold]Time[/]: [yellow]not sampled[/] — {markup(t.unavailable_reason)}")
        return
    c.print(
        f"\n[bold]Time[/] ({markup(t.source)}; {t.samples} samples, "
        f"active {fmt_s(t.active_s)}, idle {fmt_s(t.idle_s)})"
    )
    tab = table([*(Column(h, "number") for h in ("own", "total", "calls")), Column("function")])
    rows = sorted(t.functions, key=lambda f: -f.own_s)[:TOP_ROWS]
    for f in rows:
        calls = "" if f.calls is None else f"{f.calls:,}"
        # diag's own rows ("[import] x", "[numba compile] f") are where their caller is
        named = f.file and (f.line or not f.file.startswith("<"))
        where = f"{short_path(f.file)}:{f.line}" if named else ""
        tab.add_row(
            f"{f.own_share:6.1%}",
            f"{f.total_share:6.1%}",
            calls,
            f"{markup(f.name)} [dim]{markup(where)}[/]",
        )
    c.print(tab)
    if t.lines:
        c.print(
            "\n[bold]Hot lines[/] [dim](own: the innermost line of your code, library calls "
            "included; total: with everything it calls)[/]"
        )
        hot = _hot_lines(t)[:TOP_ROWS]
        cols = [
            Column("own", "number"),
            Column("total", "number"),
            Column("line", "path", "dim"),
            Column("source"),
        ]
        cells = [
            (f"{own:6.1%}", f"{total:6.1%}", f"{short_path(file)}:{line}", source)
            for file, line, own, total, source in hot
        ]
        c.print(fitted_table(c.width, cols, cells))
    _imports(t, c)


def _imports(t: TimeSection, c: Console) -> None:
    imp = t.imports
    if imp is None or not imp.modules:
        return
    c.print(f"\n[bold]Imports[/] {fmt_s(imp.total_s)} ({imp.share:.1%} of the sampled time)")
    for m in imp.modules[:6]:
        inner = ", ".join(f"{markup(s.name)} {fmt_s(s.seconds)}" for s in m.slowest[:3])
        c.print(
            f"  {m.share:6.1%} {fmt_s(m.seconds):>9}  {markup(m.name)}"
            + (f" [dim]({inner})[/]" if inner else "")
        )


def _hot_lines(t: TimeSection) -> list[tuple[str, int, float, float, str]]:
    """One row per line of a file. A comprehension or lambda runs in a frame of its own on
    the line that holds it, so the line comes in under two functions: a sample is innermost
    in only one of them (own shares add up), and the outer frame's total already holds the
    inner one's (the larger total is the line's)."""
    merged: dict[tuple[str, int], list] = {}
    for ln in t.lines:
        row = merged.setdefault((ln.file, ln.line), [ln.file, ln.line, 0.0, 0.0, ln.source])
        row[2] += ln.own_of(t.samples)
        row[3] = max(row[3], ln.share)
    rows = [(f, n, own, total, src) for f, n, own, total, src in merged.values()]
    return sorted(rows, key=lambda r: (-r[2], -r[3], r[0], r[1]))


def _memory(r: Report, c: Console) -> None:
    m = r.memory
    if not m.available:
        c.print(f"\n[bold]Memory[/]: [yellow]unavailable[/] — {markup(m.unavailable_reason)}")
        return
    c.print(
        f"\n[bold]Memory[/] peak RSS {fmt_bytes(m.peak_rss)} at {fmt_s(m.peak_t)} "
        f"[dim]({markup(m.peak_source)}; {len(m.timeline)} samples)[/]"
    )


def _jit(r: Report, c: Console) -> None:
    j = r.jit
    if not j.functions:
        return
    hits = sum(f.cache_hits for f in j.functions)
    cached = f", {hits} loaded from the on-disk cache" if hits else ""
    c.print(
        f"\n[bold]Numba[/] {len(j.compiles)} compiles, {fmt_s(j.total_compile_s)} compiling{cached}"
    )
    heads = ("compile", "n", "cache hit/miss")
    tab = table([*(Column(h, "number") for h in heads), Column("function")])
    for f in j.functions[:TOP_ROWS]:
        tab.add_row(
            fmt_s(f.compile_s),
            str(f.compiles),
            f"{f.cache_hits}/{f.cache_misses}",
            markup(f.function),
        )
    c.print(tab)


def _ranges(r: Report, c: Console) -> None:
    still = [e for e in r.ranges.events if e.open]
    if not r.ranges.stats and not still:
        return
    c.print("\n[bold]Ranges[/] (diagkit.range)")
    tab = table([*(Column(h, "number") for h in ("total", "count", "mean")), Column("range")])
    for s in r.ranges.stats[:TOP_ROWS]:
        tab.add_row(fmt_s(s.total_s), f"{s.count:,}", fmt_s(s.mean_s), markup(s.name))
    c.print(tab)
    for e in still:
        c.print(
            f"  [yellow]still inside[/] {markup(e.name)} [dim](entered at {fmt_s(e.start_t)}, "
            f"open for {fmt_s(e.end_t - e.start_t)} when the program ended)[/]"
        )


def _numerics(r: Report, c: Console) -> None:
    n = r.numerics
    if not n.warnings:
        return
    c.print(f"\n[bold]Warnings[/] {n.total:,} raised")
    for w in n.warnings[:TOP_ROWS]:
        count = f"{w.count:,}" + ("+" if w.capped else "")
        c.print(
            f"  [yellow]{count:>8}×[/] {markup(w.category)}: {markup(clip(w.message))} "
            f"[dim]{markup(short_path(w.file))}:{w.line}[/]"
        )


def _logs(r: Report, c: Console) -> None:
    lg = r.logs
    if not lg.total:
        return
    counts = ", ".join(f"{n:,} {level}" for level, n in sorted(lg.counts.items(), key=_level_rank))
    c.print(f"\n[bold]Log records[/] {lg.total:,} ({counts})")
    loud = [x for x in lg.records if x.level in ("WARNING", "ERROR", "CRITICAL")]
    for x in loud[:8]:
        color = "yellow" if x.level == "WARNING" else "red"
        c.print(
            f"  {fmt_s(x.t):>9} [{color}]{x.level}[/] {markup(x.logger)}: {markup(clip(x.message))} "
            f"[dim]{markup(short_path(x.file))}:{x.line}[/]"
        )
    if len(loud) > 8:
        c.print(f"  [dim]and {len(loud) - 8} more warnings and errors in report.json[/]")


def _level_rank(item: tuple[str, int]) -> int:
    order = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    return order.index(item[0]) if item[0] in order else len(order)


def _exception_and_stacks(r: Report, c: Console) -> None:
    exc = r.outcome.exception
    if exc is not None:
        c.print(
            f"\n[bold red]{markup(exc.type)}[/]: {markup(clip(exc.message))} "
            f"[dim]at {markup(short_path(exc.file))}:{exc.line} in {markup(exc.function)}[/]"
        )
    s = r.stacks
    if s is None:
        return
    head = f"\n[bold]Stacks[/] ({markup(s.reason or s.source)})"
    if not s.available:
        c.print(f"{head}: [yellow]{markup(s.unavailable_reason)}[/]")
        return
    c.print(head)
    for th in s.threads:
        c.print(f"  thread {th.thread_id} [bold]{markup(th.name)}[/]")
        for fr in th.frames[:15]:
            c.print(f"    {markup(fr.function)} [dim]{markup(short_path(fr.file))}:{fr.line}[/]")
