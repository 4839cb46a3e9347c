"""Pieces shared by the commands: the saved report and the console."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from diagkit.errors import DiagError
from diagkit.model.reading import NotAReport, parse_report
from diagkit.model.report import Report, write_atomic
from diagkit.run.folders import why

if TYPE_CHECKING:
    from rich.console import Console

REPORT_FILE = "report.json"


def save_report(report: Report, out_dir: Path) -> str | None:
    """Write report.json; None, or why the folder refused it (a full disk, a read-only mount)."""
    try:
        write_atomic(out_dir / REPORT_FILE, report.to_json())
    except OSError as exc:
        return f"{out_dir / REPORT_FILE}: the report could not be saved ({why(exc)})"
    return None


def finish(
    report: Report,
    out_dir: Path,
    show: Callable[[Path | None], None] | None = None,
    lost_status: int | None = None,
) -> int:
    """Save the report and its extras, show it (``show(folder)``, with None when nothing was
    saved there) and return diag's exit status: the program's.

    A lost report.json is one line on stderr, and the status stays the program's (unless
    ``lost_status`` says otherwise), since that is what a batch job around diag acts on;
    the summary shown is then all that is left of the run.
    """
    lost = save_report(report, out_dir)
    if lost is None:
        from diagkit.render.outputs import write_outputs

        write_outputs(report, out_dir)
        again = save_report(report, out_dir)
        if again is not None:
            report.notes.append(
                f"{again}; the one saved before the files beside it stands, without these notes"
            )
    if show is not None:
        show(None if lost else out_dir)
    status = report.outcome.diag_exit_code
    if lost is not None and lost_status is not None:
        raise DiagError(lost, lost_status)
    if lost is not None:
        raise DiagError(f"{lost}; diag exits with the program's status ({status})", status)
    return status


def load_report(path: Path) -> tuple[Report, Path]:
    """A report folder or a report.json, checked field by field: every command that reads a
    saved report comes here. A clear error for anything else; a note on stderr for a report
    of a newer minor version."""
    file = path / REPORT_FILE if path.is_dir() else path
    if not file.exists():
        raise DiagError(
            f"{path}: no {REPORT_FILE} there" if path.is_dir() else f"{path}: no such file"
        )
    if not file.is_file():  # a FIFO would block the read forever
        raise DiagError(f"{file}: not a regular file")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DiagError(f"{file}: cannot read it ({why(exc)})") from None
    except UnicodeDecodeError as exc:
        raise DiagError(f"{file}: not a diag report (not UTF-8 text: {exc.reason})") from None
    try:
        read = parse_report(text)
    except NotAReport as exc:
        raise DiagError(f"{file}: {exc}") from None
    if read.note:
        click.echo(f"diag: note: {file}: {read.note}", err=True)
    return read.report, file.parent


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Piped output gets a fixed, readable width (rich would fall back to 80) unless COLUMNS says.
    piped = not os.isatty(2 if stderr else 1) and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=120 if piped else None)
