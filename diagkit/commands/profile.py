"""``diag profile``: run a script or module under the default collectors and write one report."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from diagkit.commands.common import console, default_out_dir, prepare_out_dir, save_report
from diagkit.errors import DiagError
from diagkit.progress import Progress
from diagkit.session import ProfileOptions, run_profile


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-m", "module", metavar="MODULE", help="Run a module as `python -m MODULE` does.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    help="Report folder [default: diag-reports/<time>-<name>].",
)
@click.option(
    "--rate",
    type=click.IntRange(1, 2000),
    default=200,
    show_default=True,
    help="Samples per second.",
)
@click.option("--native", is_flag=True, help="Sample C, BLAS and Numba frames too (slower).")
@click.option("--subprocesses", is_flag=True, help="Sample child processes too.")
@click.option("--idle", is_flag=True, help="Keep samples of idle threads (waiting, sleeping).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop the target after SECONDS, with every thread's stack in the report.")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No terminal summary; just write the report.")
@click.argument("target_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCRIPT] [ARGS]...")
def profile(
    module: str | None,
    out: Path | None,
    rate: int,
    native: bool,
    subprocesses: bool,
    idle: bool,
    timeout: float | None,
    quiet: bool,
    target_args: tuple[str, ...],
) -> int:
    """Run SCRIPT (or -m MODULE) and report where its time and memory went."""
    kind, target, args = _resolve_target(module, list(target_args))
    out_dir = prepare_out_dir(
        out or default_out_dir(Path(target).stem if kind == "script" else target)
    )
    opts = ProfileOptions(
        kind=kind, target=target, args=args, out_dir=out_dir, rate=rate, native=native,
        subprocesses=subprocesses, idle=idle, timeout=timeout,
        command=["diag", *sys.argv[1:]],
    )  # fmt: skip
    progress = Progress()
    try:
        report = run_profile(opts, on_tick=progress.tick)
    finally:
        progress.close()
    save_report(report, out_dir)
    if report.outcome.detail.startswith("bad target: "):
        raise DiagError(report.outcome.detail.removeprefix("bad target: "), exit_code=2)
    if not quiet:
        from diagkit.report.terminal import render  # rich costs ~50 ms: only when printing

        render(report, console(stderr=True), out_dir)
    return report.outcome.diag_exit_code


def _resolve_target(module: str | None, rest: list[str]) -> tuple[str, str, list[str]]:
    if module is not None:
        if not module or module.startswith("-"):
            raise DiagError(f"-m needs a module name, got {module!r}")
        return "module", module, rest
    if not rest:
        raise DiagError("nothing to profile: give a script (diag profile script.py) or -m module")
    script, args = rest[0], rest[1:]
    if script.startswith("-"):
        raise DiagError(f"unknown option {script!r} (see 'diag profile --help')")
    path = Path(script)
    if path.is_dir():
        if (path / "__main__.py").exists():
            return "script", script, args  # python runs a directory's __main__.py
        raise DiagError(f"{script} is a directory, not a Python script")
    if not path.exists():
        raise DiagError(f"{script}: no such file")
    if not os.access(path, os.R_OK):
        raise DiagError(f"{script}: not readable")
    return "script", script, args
