"""The findings, first after the headline: what to fix first, and what to try."""

from __future__ import annotations

from rich.console import Console

from diagkit.model.report import Report
from diagkit.render.text import clip, markup

_COLOR = {"high": "red", "medium": "yellow", "low": "cyan"}
SHOWN = 5


def render_findings(r: Report, c: Console) -> None:
    if not r.findings:
        return
    c.print("\n[bold]Fix first[/]")
    for f in r.findings[:SHOWN]:
        c.print(f"  [{_COLOR[f.severity]}]{f.severity:<6}[/] {markup(clip(f.message, 400))}")
        c.print(f"         [dim]→ {markup(clip(f.advice, 400))}[/]")
    if len(r.findings) > SHOWN:
        c.print(f"  [dim]and {len(r.findings) - SHOWN} more in report.json's findings[/]")
