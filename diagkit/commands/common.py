"""Pieces shared by the commands: the saved report and the console."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from diagkit.errors import DiagError
from diagkit.report.model import Report, write_atomic

if TYPE_CHECKING:
    from rich.console import Console

REPORT_FILE = "report.json"


def save_report(report: Report, out_dir: Path) -> Path:
    path = out_dir / REPORT_FILE
    write_atomic(path, report.to_json())
    return path


def load_report(path: Path) -> tuple[Report, Path]:
    """A report folder or a report.json; a clear error for anything else."""
    file = path / REPORT_FILE if path.is_dir() else path
    if not file.exists():
        raise DiagError(
            f"{path}: no {REPORT_FILE} there" if path.is_dir() else f"{path}: no such file"
        )
    try:
        return Report.from_json(file.read_text(encoding="utf-8")), file.parent
    except (ValueError, KeyError, TypeError) as exc:
        raise DiagError(f"{file}: not a diag report ({type(exc).__name__}: {exc})") from None


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Piped output gets a fixed, readable width (rich would fall back to 80) unless COLUMNS says.
    piped = not os.isatty(2 if stderr else 1) and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=120 if piped else None)
