"""GPU sessions: a program run under GPU tracing, or a trace taken elsewhere summarized.

Running a program goes through ``diagkit.gpu.plan``: nsys wraps the child where it is
found, else the in-process collector runs inside it. ``import_trace`` reads an nsys
SQLite export (or an .nsys-rep, exported with nsys) into a report folder. Either way
the GPU timeline the trace file draws is read from the export here, once, and kept
beside the report (``store.GPU_TRACKS``): the exporters never open the export.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from diagkit._version import __version__
from diagkit.errors import DiagError
from diagkit.gpu.nsys import run as nsys_run
from diagkit.gpu.nsys import sqlite as nsys_sqlite
from diagkit.gpu.nsys import stats_csv as nsys_csv
from diagkit.gpu.nsys.tracks import gpu_tracks
from diagkit.gpu.plan import GpuPlan
from diagkit.model.gpu import GpuSection
from diagkit.model.kinds import LaunchKind
from diagkit.model.report import (
    SCHEMA_VERSION,
    EnvironmentSection,
    JitSection,
    MemorySection,
    NumericsSection,
    Outcome,
    RangesSection,
    Report,
    Target,
    TimeSection,
)
from diagkit.model.store import GPU_TRACKS, ReportFolder
from diagkit.run.finish import finish
from diagkit.run.folders import default_out_dir, prepare_out_dir, why

S = TypeVar("S")
GPU_COLLECTOR = "diagkit.gpu.target.inprocess:collector"
NOT_RUN = "not collected: `diag gpu-trace --import` summarizes a trace, it runs nothing"
_NO_NSYS = (
    "{path}: an .nsys-rep needs nsys to export it and nsys was not found; give --nsys PATH, "
    "or run `nsys export --type sqlite -o trace.sqlite {path}` where nsys is and import the .sqlite"
)


def run_traced(
    kind: LaunchKind, target: str, args: list[str], out_dir: Path, plan: GpuPlan
) -> Report:
    """Run the program under ``plan`` (nsys, or the in-process collector); the caller saves."""
    from diagkit.run.launch import ProfileOptions
    from diagkit.run.session import run_profile

    opts = ProfileOptions(
        kind=kind,
        target=target,
        args=args,
        out_dir=out_dir,
        command=["diag", *sys.argv[1:]],
        extra_env=plan.env(),
        collectors=[GPU_COLLECTOR],
        wrap=plan.wrap if plan.nsys is not None else None,
    )
    return run_profile(opts, contribute=gpu_contributor(plan, out_dir))


def gpu_contributor(
    plan: GpuPlan, out_dir: Path
) -> Callable[[Report, list[dict[str, Any]], int], None]:
    """The session hook that turns the plan's results into the report's GPU section."""

    def contribute(report: Report, events: list[dict[str, Any]], t0_ns: int) -> None:
        report.gpu, files = plan.collect(t0_ns=t0_ns, returncode=report.outcome.exit_code)
        report.files.update(files)
        if report.gpu.available:
            report.files.update(nsys_csv.write_all(report.gpu, out_dir))
        if "nsys sqlite" in files:
            keep_tracks(report, out_dir, out_dir / files["nsys sqlite"])

    return contribute


def keep_tracks(report: Report, out_dir: Path, export: Path) -> None:
    """Write the export's GPU timeline beside the report, for the trace file to draw."""
    try:
        name = ReportFolder(out_dir).write_gpu_tracks(gpu_tracks(export))
    except OSError as exc:
        report.notes.append(
            f"{GPU_TRACKS} was not written, so the trace has no GPU tracks ({why(exc)})"
        )
        return
    report.files["gpu tracks"] = name


def _section_for(path: Path, out_dir: Path, nsys: str) -> tuple[GpuSection, Path]:
    """Export an .nsys-rep into ``out_dir`` with ``nsys`` and summarize it."""
    sqlite = nsys_run.export(nsys, path, out_dir / (path.stem + ".sqlite"))
    return nsys_sqlite.load(sqlite), sqlite


def import_trace(
    path: Path, out: Path | None = None, nsys_path: str | None = None
) -> tuple[Report, Path]:
    """Summarize a saved trace into a report folder; returns the report and the folder."""
    if not path.exists():
        raise DiagError(f"{path}: no such file")
    if path.is_dir():
        raise DiagError(f"{path}: a directory; give the trace's .sqlite or .nsys-rep file")
    rep = path.suffix.lower() == ".nsys-rep"
    if path.suffix.lower() == ".qdstrm":
        raise DiagError(
            f"{path}: a raw nsys capture, not a report; convert it with nsys's QdstrmImporter "
            "to an .nsys-rep first"
        )
    nsys = nsys_run.find_nsys(nsys_path) if rep else None  # a bad --nsys raises here
    if rep and nsys is None:
        raise DiagError(_NO_NSYS.format(path=path))
    # A bad SQLite file is refused before the report folder is created.
    early = None if rep else nsys_sqlite.load(path)
    out_dir = prepare_out_dir(out or default_out_dir(f"gpu-{path.stem}"))
    if nsys is not None:
        section, sqlite = _section_for(path, out_dir, nsys)
    else:
        assert early is not None  # not an .nsys-rep: loaded above
        section, sqlite = early, path
    report = _import_report(path, section)
    inside = sqlite.resolve().parent == out_dir.resolve()
    report.files["gpu trace"] = sqlite.name if inside else str(sqlite.resolve())
    report.files.update(nsys_csv.write_all(section, out_dir))
    # Named as the trace file names it: beside the report, or where it was imported from.
    keep_tracks(report, out_dir, out_dir / sqlite.name if inside else sqlite.resolve())
    # Nothing ran: a lost report is an ordinary failure (the trace can be imported again).
    finish(report, out_dir, lost_status=2)
    return report, out_dir


def _off(cls: type[S]) -> S:
    return cls(available=False, unavailable_reason=NOT_RUN)  # type: ignore[call-arg]


def _import_report(path: Path, section: GpuSection) -> Report:
    return Report(
        schema_version=SCHEMA_VERSION,
        diagkit_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        command=["diag", "gpu-trace", "--import", str(path)],
        target=Target(argv=[str(path)], kind="import", cwd=os.getcwd(), python=sys.executable),
        outcome=Outcome(
            kind="imported",
            wall_s=section.window_s,
            detail=f"summary of a trace taken elsewhere: {path}",
        ),
        time=_off(TimeSection),
        memory=_off(MemorySection),
        jit=_off(JitSection),
        numerics=_off(NumericsSection),
        ranges=_off(RangesSection),
        environment=_off(EnvironmentSection),
        gpu=section,
    )
