"""``diag gpu-trace``: kernels, host/device copies, ranges and GPU idle time of a program or a trace.

``--import FILE`` summarizes a trace taken elsewhere (an nsys SQLite export, or
an .nsys-rep when nsys is here to export it); ``diagkit.gpu.session`` does the work.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from diagkit.commands.common import console
from diagkit.commands.options import FolderPath
from diagkit.errors import DiagError
from diagkit.gpu.plan import gpu_plan
from diagkit.gpu.session import import_trace, run_traced
from diagkit.model.report import Report
from diagkit.model.store import REPORT
from diagkit.render.terminal.gpu import render_gpu
from diagkit.run.finish import finish
from diagkit.run.folders import default_out_dir, prepare_out_dir
from diagkit.run.targets import resolve_target


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
    kind, target, args = resolve_target(module, list(target_args))
    out_dir = prepare_out_dir(out or default_out_dir(f"gpu-{Path(target).stem}"))
    plan = gpu_plan(out_dir, nsys_path=nsys_path, use_nsys=not no_nsys)
    report = run_traced(kind, target, args, out_dir, plan)
    return finish(report, out_dir, None if quiet else lambda folder: _render(report, folder))


def _render(report: Report, folder: Path | None) -> None:
    from diagkit.render.terminal.profile import render

    render(report, console(stderr=True), folder)


def render_import(report: Report, c: Console, out_dir: Path) -> None:
    c.rule(f"[bold]diag gpu-trace[/] --import {escape(' '.join(report.target.argv))}")
    if report.gpu is not None:
        render_gpu(report.gpu, c)
    files = " ".join(sorted([REPORT, *(f for f in report.files.values() if "/" not in f)]))
    c.print(f"\n[bold]Report[/] {escape(str(out_dir))}/ {escape(files)}")
