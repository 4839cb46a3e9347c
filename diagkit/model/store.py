"""A report folder: report.json and the files beside it, every one of them named here.

Sessions and collectors write under these names; renderers and exporters find a side
file through ``ReportFolder`` and nowhere else, so what a page or a trace may read is
listed in one place. Only the standard library is imported up front: ``diag profile``
names its files before the program starts, and loads the report model after.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diagkit.model.gpu_tracks import GpuTracks
    from diagkit.model.reading import ReadReport
    from diagkit.model.report import Report

REPORT = "report.json"
HTML = "report.html"
TRACE = "profile.trace.json"
SPEEDSCOPE = "profile.speedscope.json"  # py-spy's samples, each weighted by its interval
PSTATS = "profile.pstats"  # --deep: cProfile's calls
LPROF = "profile.lprof"  # --deep: line_profiler's hits
TRACERS_LOG = "deep-tracers.log"  # --deep: the program's output in each deep pass
MEMORY_LOG = "deep-memory.log"
GPU_INPROCESS = "gpu-inprocess.json"  # what the in-process GPU collector wrote at exit
GPU_TRACE_BASE = "gpu-trace"  # nsys writes gpu-trace.nsys-rep; its export is gpu-trace.sqlite
GPU_TRACKS = "gpu-tracks.json"  # the GPU timeline the trace draws, read from the nsys export


def gpu_csv(report_name: str) -> str:
    """``gpu.<report>.csv``: one of the tables ``nsys stats`` would print, by its report name."""
    return f"gpu.{report_name}.csv"


class UnreadableReport(Exception):
    """No report could be read from a path; the message names the file and why."""


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a report is an ordinary file, readable as the umask says.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        # A full disk keeps no half-written temporary file; the original error is the one to see.
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        raise


class ReportFolder:
    """The folder of one run, and the paths of the files diag writes and reads there."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def report(self) -> Path:
        return self.path / REPORT

    def save(self, report: Report) -> None:
        """Write report.json atomically; an OSError (a full disk, a read-only mount) propagates."""
        write_atomic(self.report, report.to_json())

    def write_gpu_tracks(self, tracks: GpuTracks) -> str:
        """Write the GPU timeline for the trace; returns its name for ``Report.files``."""
        from diagkit.model.serde import to_dict

        write_atomic(self.path / GPU_TRACKS, json.dumps(to_dict(tracks), separators=(",", ":")))
        return GPU_TRACKS

    def gpu_tracks(self) -> GpuTracks | None:
        """The GPU timeline written beside the report; None when there is none.

        A damaged file is a timeline with ``problem`` saying so: the trace is written
        without GPU tracks rather than not at all."""
        from diagkit.model.gpu_tracks import GpuTracks
        from diagkit.model.serde import from_dict

        path = self.path / GPU_TRACKS
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            return GpuTracks(source=str(path), problem=f"no GPU tracks: {path}: {_reason(exc)}")
        try:
            return from_dict(GpuTracks, json.loads(text))
        except ValueError as exc:  # not JSON, or JSON that does not fit the model
            return GpuTracks(source=str(path), problem=f"no GPU tracks: {path}: {exc}")


def load_report(path: Path) -> tuple[ReadReport, Path]:
    """The report in a folder or a report.json, checked field by field, and the file it was
    read from; UnreadableReport says in one line why there is none."""
    from diagkit.model.reading import NotAReport, parse_report

    file = path / REPORT if path.is_dir() else path
    if not file.exists():
        raise UnreadableReport(
            f"{path}: no {REPORT} there" if path.is_dir() else f"{path}: no such file"
        )
    if not file.is_file():  # a FIFO would block the read forever
        raise UnreadableReport(f"{file}: not a regular file")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UnreadableReport(f"{file}: cannot read it ({_reason(exc)})") from None
    except UnicodeDecodeError as exc:
        raise UnreadableReport(
            f"{file}: not a diag report (not UTF-8 text: {exc.reason})"
        ) from None
    try:
        return parse_report(text), file
    except NotAReport as exc:
        raise UnreadableReport(f"{file}: {exc}") from None


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text: {exc.reason}"
    return exc.strerror or str(exc)
