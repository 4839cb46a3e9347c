"""The files written beside report.json: the HTML page and the Perfetto trace.

Called after report.json is saved, so a failure here (a bad page, a full disk) cannot cost
the run its report; what could not be written is said in the report's notes instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diagkit.model.report import Report
from diagkit.model.store import HTML, TRACE
from diagkit.render.html.page import write_html
from diagkit.render.perfetto import write_trace


def write_outputs(report: Report, out_dir: Path) -> list[Path]:
    """Write profile.trace.json and report.html into ``out_dir`` and register them in
    ``report.files`` (the caller saves report.json again); returns the files written."""
    written: list[Path] = []
    steps: list[tuple[str, str, Callable[[Report, Path], Path]]] = [
        ("trace", TRACE, write_trace),
        ("html", HTML, write_html),
    ]
    for key, name, write in steps:
        report.files[key] = name  # the page lists the files, itself included
        try:
            written.append(write(report, out_dir))
        except Exception as exc:  # a bad page must not take the saved run with it
            report.files.pop(key, None)
            what = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            report.notes.append(f"{name} was not written: {type(exc).__name__}: {what}")
    return written
