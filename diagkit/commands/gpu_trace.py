"""``diag gpu-trace``: kernels, host/device copies, ranges and GPU idle time of a program or a trace.

``--import FILE`` summarizes a trace taken elsewhere (an nsys SQLite export, or
an .nsys-rep when nsys is here to export it). Running a program goes through
``diagkit.gpu.plan``: nsys wraps the child where it is found, else the
in-process collector runs inside it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from diagkit import __version__
from diagkit.commands.common import console, finish
from diagkit.commands.options import FolderPath
from diagkit.errors import DiagError
from diagkit.gpu.nsys import run as nsys_run
from diagkit.gpu.nsys import sqlite as nsys_sqlite
from diagkit.gpu.nsys import stats_csv as nsys_csv
from diagkit.gpu.plan import GpuPlan, gpu_plan
from diagkit.model.gpu import GpuSection
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
from diagkit.render.terminal.gpu import render_gpu
from diagkit.run.folders import default_out_dir, prepare_out_dir

S = TypeVar("S")
GPU_COLLECTOR = "diagkit.gpu.target.inprocess:collector"
NOT_RUN = "not collected: `diag gpu-trace --import` summarizes a trace, it runs nothing"
_NO_NSYS = (
    "{path}: an .nsys-rep needs nsys to export it and nsys was not found; give --nsys PATH, "
    "or run `nsys export --type sqlite -o trace.sqlite {path}` where nsys is and import the .sqlite"
)


@click.command(
    "gpu-trace",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-m", "module", metavar="MODULE", help="Run a module as `python -m MODULE` does.")
@click.option(
    "--import",
    "import_path",
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Summarize a trace taken elsewhere: an nsys SQLite export, or an .nsys-rep "
    "(exported with nsys, which must be here).",
)
@click.option("--nsys", "nsys_path", metavar="PATH", help="The nsys to use [default: on the PATH].")
@click.option("--no-nsys", is_flag=True, help="Trace in-process even where nsys is found.")
@click.option(
    "--out",
    "out",
    type=FolderPath(path_type=Path),
    help="Report folder [default: diag-reports/<time>-<name>].",
)
@click.option("--quiet", "-q", is_flag=True, help="No terminal summary; just write the report.")
@click.argument("target_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCRIPT] [ARGS]...")
def gpu_trace(
    module: str | None,
    import_path: Path | None,
    nsys_path: str | None,
    no_nsys: bool,
    out: Path | None,
    quiet: bool,
    target_args: tuple[str, ...],
) -> int:
    """Run SCRIPT (or -m MODULE) and report its GPU kernels, copies, ranges and idle time."""
    if import_path is not None:
        if module is not None or target_args:
            raise DiagError("give either --import FILE or a program to run, not both")
        if no_nsys and import_path.suffix == ".nsys-rep":
            raise DiagError(f"{import_path}: an .nsys-rep needs nsys to export it (drop --no-nsys)")
        report, out_dir = import_trace(import_path, out, nsys_path)
        if not quiet:
            render_import(report, console(stderr=True), out_dir)
        return 0
    from diagkit.commands.profile import resolve_target

    kind, target, args = resolve_target(module, list(target_args))
    out_dir = prepare_out_dir(out or default_out_dir(f"gpu-{Path(target).stem}"))
    plan = gpu_plan(out_dir, nsys_path=nsys_path, use_nsys=not no_nsys)
    report = run_traced(kind, target, args, out_dir, plan)
    return finish(report, out_dir, None if quiet else lambda folder: _render(report, folder))


def _render(report: Report, folder: Path | None) -> None:
    from diagkit.render.terminal.profile import render

    render(report, console(stderr=True), folder)


def run_traced(kind: str, target: str, args: list[str], out_dir: Path, plan: GpuPlan) -> Report:
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

    return contribute


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


def render_import(report: Report, c: Console, out_dir: Path) -> None:
    c.rule(f"[bold]diag gpu-trace[/] --import {escape(' '.join(report.target.argv))}")
    if report.gpu is not None:
        render_gpu(report.gpu, c)
    files = " ".join(sorted(["report.json", *(f for f in report.files.values() if "/" not in f)]))
    c.print(f"\n[bold]Report[/] {escape(str(out_dir))}/ {escape(files)}")
