"""Pieces shared by the commands: reading a saved report, and the console."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from diagkit.errors import DiagError
from diagkit.model.store import UnreadableReport
from diagkit.model.store import load_report as read_saved

if TYPE_CHECKING:
    from rich.console import Console

    from diagkit.model.report import Report


def load_report(path: Path) -> tuple[Report, Path]:
    """A report folder or a report.json, checked field by field: every command that reads a
    saved report comes here. A clear error for anything else; a note on stderr for a report
    of a newer minor version."""
    try:
        read, file = read_saved(path)
    except UnreadableReport as exc:
        raise DiagError(str(exc)) from None
    if read.note:
        click.echo(f"diag: note: {file}: {read.note}", err=True)
    return read.report, file.parent


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Piped output gets a fixed, readable width (rich would fall back to 80) unless COLUMNS says.
    piped = not os.isatty(2 if stderr else 1) and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=120 if piped else None)
