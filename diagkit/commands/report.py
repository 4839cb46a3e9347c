"""``diag report``: render a saved report again, without re-running anything."""

from __future__ import annotations

from pathlib import Path

import click

from diagkit.commands.common import console, load_report


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--html", "html", is_flag=True, help="Write report.html beside it (again) and say where."
)
def report(path: Path, html: bool) -> int:
    """Show the report in PATH (a report folder or its report.json)."""
    rep, folder = load_report(path)
    if html:
        from diagkit.render.html.page import write_page

        click.echo(write_page(rep, folder))
        return 0
    from diagkit.render.terminal.profile import render

    render(rep, console(), folder)
    return 0
