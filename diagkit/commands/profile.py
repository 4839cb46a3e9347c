"""``diag profile``: run a script or module under the default collectors and write one report."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from diagkit.commands.options import FolderPath, seconds
from diagkit.errors import BadTarget, DiagError
from diagkit.run import stop_signals
from diagkit.run.deep_plan import deep_request, plan_deep
from diagkit.run.folders import default_out_dir, prepare_out_dir
from diagkit.run.launch import Launch, ProfileOptions
from diagkit.run.progress import Progress, drop_output
from diagkit.run.sampling import NONBLOCKING_RATE, SamplingOptions, sampling_for
from diagkit.run.targets import resolve_target

if TYPE_CHECKING:
    from diagkit.model.report import Report


class _ProgramCommand(click.Command):
    """diag's options come first; from ``-m MODULE`` or ``SCRIPT`` on, every word is the
    program's, as with ``python``: ``diag profile -m pytest -q`` passes ``-q`` to pytest."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ours, program = split_program_args(args, self._value_options())
        return super().parse_args(ctx, [*ours, "--", *program] if program else ours)

    def _value_options(self) -> set[str]:
        return {
            name
            for p in self.params
            if isinstance(p, click.Option) and not p.is_flag
            for name in (*p.opts, *p.secondary_opts)
        }

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] SCRIPT [ARGS]...")
        formatter.write_usage(ctx.command_path, "[OPTIONS] -m MODULE [ARGS]...", prefix="   or: ")


def split_program_args(args: list[str], value_options: set[str]) -> tuple[list[str], list[str]]:
    """(diag's words, the program's words): the program's start at the script, or right
    after ``-m MODULE`` / ``-mMODULE``; a ``--`` before them only ends diag's options."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return args[:i], args[i + 1 :]
        cluster = word[1:].lstrip("q") if word[:1] == "-" and word[1:2] != "-" else ""
        if cluster.startswith("m"):  # -m MODULE, -mMODULE, -qm MODULE
            end = i + 2 if cluster == "m" else i + 1
            return args[:end], args[end:]
        if not word.startswith("-") or word == "-":
            return args[:i], args[i:]
        if word in value_options:
            i += 2
            continue
        if word.startswith("--") or word in ("-q", "-h"):
            i += 1  # a flag, --opt=value, or an unknown option click will name
            continue
        return args[:i], args[i:]  # combined or unknown short options: click reports them
    return args, []


@click.command(cls=_ProgramCommand, context_settings={"ignore_unknown_options": True})
@click.option("-m", "module", metavar="MODULE", help="Run a module as `python -m MODULE` does.")
@click.option(
    "--out",
    "out",
    type=FolderPath(path_type=Path),
    help="Report folder [default: diag-reports/<time>-<name>].",
)
@click.option(
    "--rate",
    type=click.IntRange(1, 2000),
    help="Samples per second throughout [default: 250, lower for more than 8 threads; "
    "--blocking: 200 for the first 2 s, then 100].",
)
@click.option(
    "--native", is_flag=True, help="Sample C, BLAS and Numba frames too (slower; blocking)."
)
@click.option("--subprocesses", is_flag=True, help="Sample child processes too.")
@click.option("--idle", is_flag=True, help="Keep samples of idle threads (waiting, sleeping).")
@click.option(
    "--nonblocking",
    is_flag=True,
    help="Sample without pausing the program, each sample weighted by its own interval "
    "(the default).",
)
@click.option(
    "--blocking",
    is_flag=True,
    help="Pause the program for each sample, as py-spy does by default: no read is lost, "
    "but every thread stops each time (costly on deep stacks and many threads).",
)
@click.option(
    "--timeout",
    type=seconds(),
    metavar="SECONDS",
    help="Stop the target after SECONDS, with every thread's stack in the report.",
)
@click.option("--quiet", "-q", is_flag=True, help="No terminal summary; just write the report.")
@click.option(
    "--pid",
    type=click.IntRange(min=1),
    help="Attach to this running process instead of starting one; it keeps running.",
)
@click.option(
    "--duration",
    type=seconds(),
    metavar="SECONDS",
    help="With --pid: sample for SECONDS [default: until Ctrl-C or the process exits]; "
    "with --dask: the window, required.",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Then run it again under cProfile and line_profiler, "
    "and once more under tracemalloc, for exact calls, line hits and allocation sites.",
)
@click.option(
    "--lines",
    metavar="FUNC,...",
    help="--deep: also trace these functions line by "
    "line (module:qualname, path.py:function or a name in the script).",
)
@click.option(
    "--memory-lines",
    metavar="FUNC,...",
    help="--deep: RSS increments line by line in these functions (slow: name few).",
)
@click.option(
    "--no-jit",
    is_flag=True,
    help="--deep: trace with NUMBA_DISABLE_JIT=1, so jitted functions run as Python.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Keep the program's logging records from this level up, on the report's timeline "
    "(only records its own loggers let through; nothing it prints changes).",
)
@click.option(
    "--gpu",
    is_flag=True,
    help="Add the GPU section: kernels, copies and ranges, traced in-process.",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Sample every worker of the Dask cluster at ADDRESS for --duration seconds "
    "(from each worker's Nanny), with the task stream of the window.",
)
@click.argument("target_args", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS]...")
def profile(
    module: str | None,
    out: Path | None,
    rate: int | None,
    native: bool,
    subprocesses: bool,
    idle: bool,
    nonblocking: bool,
    blocking: bool,
    timeout: float | None,
    quiet: bool,
    pid: int | None,
    duration: float | None,
    deep: bool,
    lines: str | None,
    memory_lines: str | None,
    no_jit: bool,
    log_level: str,
    gpu: bool,
    dask_address: str | None,
    target_args: tuple[str, ...],
) -> int:
    """Run SCRIPT (or -m MODULE) and report where its time and memory went.

    Every word after SCRIPT or -m MODULE is the program's, as with python: put diag's
    options before it."""
    deep_req = deep_request(deep, lines, memory_lines, no_jit, attach=pid is not None)
    if blocking and nonblocking:
        raise DiagError("--blocking and --nonblocking: give one of them")
    if native and nonblocking:
        raise DiagError("--native samples blocking (py-spy cannot read C frames otherwise)")
    sampling = sampling_for(
        rate, native=native, blocking=blocking, idle=idle, subprocesses=subprocesses
    )
    if dask_address is not None:
        return _dask(dask_address, duration, rate, out, quiet, timeout, pid, module, target_args)
    if gpu and (pid is not None or duration is not None):
        raise DiagError("--gpu traces inside a program diag starts; it cannot attach to --pid")
    if pid is not None or duration is not None:
        return _attach(
            pid,
            duration,
            sampling,
            out=out,
            quiet=quiet,
            module=module,
            target_args=target_args,
            timeout=timeout,
        )
    kind, target, args = resolve_target(module, list(target_args))
    deep_plan = plan_deep(deep_req, kind, target, quiet) if deep_req else None
    out_dir = prepare_out_dir(
        out or default_out_dir(Path(target).stem if kind == "script" else target)
    )
    opts = ProfileOptions(
        kind=kind,
        target=target,
        args=args,
        out_dir=out_dir,
        sampling=sampling,
        timeout=timeout,
        command=["diag", *sys.argv[1:]],
    )
    opts.extra_env["DIAGKIT_LOG_LEVEL"] = log_level.upper()
    contribute = None
    if gpu:
        from diagkit.gpu.plan import gpu_plan
        from diagkit.gpu.session import GPU_COLLECTOR, gpu_contributor

        plan = gpu_plan(out_dir, use_nsys=False)
        opts.extra_env.update(plan.env())
        opts.collectors.append(GPU_COLLECTOR)
        contribute = gpu_contributor(plan, out_dir)
    # The program starts now: its start-up and py-spy's attach overlap diag's imports (the
    # report model, the collectors, the outputs), instead of waiting for them.
    stops = stop_signals.install()  # before the child exists: no signal may orphan it
    launch = Launch(opts)
    stops.watch(launch.child, lambda: launch.t0_ns != 0)
    launch.overlap(_imports("diagkit.run.finish", "diagkit.run.session"))
    from diagkit.run.finish import finish, save_report
    from diagkit.run.session import run_profile

    # What the end of the run needs, imported ahead where the start leaves time.
    later = ["diagkit.collectors.sampled_time", "diagkit.render.outputs"]
    if not quiet:
        later += ["rich.console", "diagkit.commands.common", "diagkit.render.terminal.profile"]
    progress = Progress()
    try:
        report = run_profile(
            opts,
            on_tick=progress.tick,
            contribute=contribute,
            launch=launch,
            ahead=_imports(*later),
        )
        if not subprocesses:
            from diagkit.collectors.sampled_time import unsampled_children_note

            note = unsampled_children_note(report)
            if note:
                report.notes.append(note)
        if deep_plan is not None:
            save_report(report, out_dir)  # the sampled pass is kept whatever the deep passes do
            deep_plan.run(report, opts)
    finally:
        progress.close()
    if report.outcome.bad_target:
        save_report(report, out_dir)
        raise BadTarget(report.outcome.bad_target)
    status = finish(report, out_dir, None if quiet else lambda folder: _render(report, folder))
    return stops.exit_status(status)  # told to stop by SIGTERM or SIGHUP at any point: 128+N


def _imports(*modules: str) -> list[Callable[[], object]]:
    return [functools.partial(importlib.import_module, name) for name in modules]


def _render(report: Report, folder: Path | None) -> None:
    from diagkit.commands.common import console
    from diagkit.render.terminal.profile import render  # rich costs ~50 ms: only when printing

    con = console(stderr=True)

    def reader_gone() -> None:  # rich's own answer to EPIPE would be exit status 1
        con.quiet = True
        drop_output()

    con.on_broken_pipe = reader_gone  # type: ignore[method-assign]
    try:
        render(report, con, folder)
    except OSError:  # the terminal closed (EIO): the report is saved, the status stands
        drop_output()


def _dask(
    address: str,
    duration: float | None,
    rate: int | None,
    out: Path | None,
    quiet: bool,
    timeout: float | None,
    pid: int | None,
    module: str | None,
    target_args: tuple[str, ...],
) -> int:
    """``--dask ADDRESS --duration S``: the cluster's workers for a window (``--timeout``:
    how long the scheduler may take to answer)."""
    from diagkit.run.dask_profile import profile_dask
    from diagkit.run.finish import finish

    if duration is None:
        raise DiagError("--dask samples a running cluster for a window: give --duration SECONDS")
    if pid is not None or module is not None or target_args:
        raise DiagError("--dask samples a cluster's workers: give no --pid, script or -m with it")
    out_dir = prepare_out_dir(out or default_out_dir("dask"))
    report = profile_dask(
        address,
        duration,
        rate or NONBLOCKING_RATE,
        out_dir,
        timeout or 10.0,
        ["diag", *sys.argv[1:]],
    )
    return finish(report, out_dir, None if quiet else lambda folder: _render(report, folder))


def _attach(
    pid: int | None,
    duration: float | None,
    sampling: SamplingOptions,
    *,
    out: Path | None,
    quiet: bool,
    module: str | None,
    target_args: tuple[str, ...],
    timeout: float | None,
) -> int:
    """``--pid``; a program to start (``module``, ``target_args``) and ``timeout`` are refused."""
    from diagkit.run.attach_session import AttachOptions, run_attached
    from diagkit.run.finish import finish

    if pid is None:
        raise DiagError("--duration goes with --pid (to stop a program diag starts, use --timeout)")
    if module is not None or target_args:
        raise DiagError("--pid attaches to a running process: give no script or -m with it")
    if timeout is not None:
        raise DiagError("--timeout stops a program diag starts; with --pid use --duration")
    out_dir = prepare_out_dir(out or default_out_dir(f"pid{pid}"))
    opts = AttachOptions(
        pid=pid,
        out_dir=out_dir,
        duration=duration,
        sampling=sampling,
        command=["diag", *sys.argv[1:]],
    )
    progress = Progress()
    try:
        report = run_attached(opts, on_tick=progress.tick)
    finally:
        progress.close()
    return finish(report, out_dir, None if quiet else lambda folder: _render(report, folder))
