"""The end of every run: report.json saved, the files beside it written, report.json again.

report.json goes first so a failure in the page or the trace (a bad page, a full disk)
cannot cost the run its report; it is saved again afterwards because writing those
files registers them, and their failures, in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diagkit.errors import DiagError
from diagkit.model.report import Report
from diagkit.model.store import REPORT, ReportFolder
from diagkit.run.folders import why


def save_report(report: Report, out_dir: Path) -> str | None:
    """Write report.json; None, or why the folder refused it (a full disk, a read-only mount)."""
    try:
        ReportFolder(out_dir).save(report)
    except OSError as exc:
        return f"{out_dir / REPORT}: the report could not be saved ({why(exc)})"
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
    from diagkit.diagnose.findings import diagnose

    report.findings = diagnose(report)
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
