"""``diag report``: render a saved report again, without re-running anything."""

from __future__ import annotations

from pathlib import Path

import click

from diagkit.commands.common import console, load_report


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def report(path: Path) -> int:
    """Show the report in PATH (a report folder or its report.json)."""
    from diagkit.report.terminal import render

    rep, folder = load_report(path)
    render(rep, console(), folder)
    return 0
