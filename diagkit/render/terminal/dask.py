"""The Dask section of a ``diag profile --dask`` report: per worker and per task prefix."""

from __future__ import annotations

from rich.console import Console

from diagkit.model.dask import DaskSection
from diagkit.render.terminal.table_fit import Column, table
from diagkit.render.text import clip, markup
from diagkit.render.units import fmt_bytes, fmt_s

TOP_PREFIXES = 12


def render_dask(d: DaskSection, c: Console) -> None:
    c.print(
        f"\n[bold]Dask workers[/] {markup(d.scheduler)}, {fmt_s(d.window_s)} window, "
        f"{d.tasks:,} tasks in its task stream"
    )
    tab = table(
        [
            Column("worker"),
            *(Column(h, "number") for h in ("pid", "tasks", "compute", "busy", "peak RSS")),
            Column("note"),
        ]
    )
    for w in d.workers:
        tab.add_row(
            markup(w.name or w.address),
            str(w.pid),
            f"{w.tasks:,}",
            fmt_s(w.compute_s),
            f"{w.busy_share:.0%}",
            fmt_bytes(w.peak_rss) if w.peak_rss else "n/a",
            markup(clip(w.problem)),
        )
    c.print(tab)
    if not d.prefixes:
        return
    c.print("\n[bold]Tasks[/] (by prefix, compute time in the window)")
    tab = table(
        [
            *(Column(h, "number") for h in ("share", "count", "total", "mean", "transfer")),
            Column("prefix"),
        ]
    )
    for p in d.prefixes[:TOP_PREFIXES]:
        tab.add_row(
            f"{p.share:.1%}",
            f"{p.count:,}",
            fmt_s(p.total_s),
            fmt_s(p.mean_s),
            fmt_s(p.transfer_s),
            markup(p.prefix),
        )
    c.print(tab)
