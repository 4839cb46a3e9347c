"""``diag dump``: where a running Python program is, without stopping it.

Heavy modules are imported inside the command: a dump is wanted in a hurry,
and ``diag --help`` should not pay for it either.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from diagkit.commands.options import seconds
from diagkit.errors import DiagError, ExitCode, TargetGone

if TYPE_CHECKING:
    import psutil

    from diagkit.dumping.rounds import Dumped, DumpOptions
    from diagkit.model.dump import DumpResult


@click.command()
@click.option("--pid", type=click.IntRange(min=1), help="The process to dump.")
@click.option(
    "--name",
    "pattern",
    metavar="PATTERN",
    help="Dump every Python process whose command line matches this regular expression.",
)
@click.option("--native", is_flag=True, help="Show C, BLAS and Numba frames too.")
@click.option("--locals", "show_locals", is_flag=True, help="Show each frame's local variables.")
@click.option(
    "--children",
    is_flag=True,
    help="Dump every descendant Python process too (multiprocessing, joblib, Dask).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Take this many dumps and say, per thread, whether its stack moved.",
)
@click.option(
    "--interval",
    type=seconds(),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between dumps (with --repeat).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Dump every worker of the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786): stacks from each worker's Nanny, tasks, memory, heartbeats.",
)
@click.option(
    "--timeout",
    type=seconds(),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="With --dask: how long to wait for the scheduler to answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def dump(
    pid: int | None,
    pattern: str | None,
    native: bool,
    show_locals: bool,
    children: bool,
    repeat: int,
    interval: float,
    dask_address: str | None,
    timeout: float,
    as_json: bool,
) -> int:
    """Print every thread's Python stack of a running process, with what the OS says about it."""
    if dask_address is not None:
        if pid is not None or pattern is not None or children or native or repeat > 1:
            raise DiagError(
                "--dask dumps a cluster: give it without --pid, --name, --children, "
                "--native or --repeat (each worker is dumped twice, --interval apart)"
            )
        return _dump_dask(dask_address, timeout, interval, as_json)
    if (pid is None) == (pattern is None):
        raise DiagError("give --pid PID, --name PATTERN or --dask ADDRESS (one of them)")
    from diagkit.collectors.thread_cpu import read_threads

    # The CPU window before the first dump opens now and runs while the rest of diag loads.
    early = {pid: read_threads(pid)} if pid is not None else {}
    from diagkit.collectors import pid_checks
    from diagkit.dumping.rounds import DumpOptions, dump_rounds

    if pid is not None:
        primary = [pid_checks.open_target(pid)]
        notes: list[str] = []
    else:
        assert pattern is not None
        primary, others = pid_checks.find_by_name(pattern)
        notes = [_skipped(others)] if others else []
        if not primary:
            raise TargetGone(f"no Python process matches --name {pattern!r}")
    targets = [(p, 0) for p in primary]
    if children:
        seen = {p.pid for p in primary}
        for p in primary:
            for kid in pid_checks.python_descendants(p):
                if kid.pid not in seen:
                    seen.add(kid.pid)
                    targets.append((kid, p.pid))
    opts = DumpOptions(native=native, show_locals=show_locals, repeat=repeat, interval=interval)
    rounds = dump_rounds(targets, opts, early)
    done = rounds.processes
    mains = [d for d in done if not d.result.child_of]
    if all(not d.result.dumps for d in mains) and any(d.exit_code for d in mains):
        _fail(next(d for d in mains if d.exit_code))  # nothing to show but why
    result = _result(done, opts, notes)
    result.interrupted, result.rounds = rounds.interrupted, rounds.taken
    _print(result, as_json)
    if rounds.interrupted:
        return ExitCode.SIGINT  # as an interrupted program's; the dumps taken are printed above
    failed = [d for d in mains if d.exit_code]
    # With --name the others were dumped: the failures are in the output, not fatal.
    if failed and pattern is None:
        _fail(failed[0])
    return ExitCode.OK


def _dump_dask(address: str, timeout: float, interval: float, as_json: bool) -> int:
    from diagkit.run.dask_dump import dump_dask

    result = dump_dask(address, timeout, min(interval, 2.0), ["diag", *sys.argv[1:]])
    if as_json:
        click.echo(result.to_json())
    else:
        from diagkit.render.terminal.dask_dump import render_cluster

        render_cluster(result)
    return ExitCode.OK


def _fail(d: Dumped) -> None:
    assert d.failure is not None
    raise d.failure


def _skipped(others: list[psutil.Process]) -> str:
    names = ", ".join(f"{p.pid} ({_name(p)})" for p in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    return f"skipped {len(others)} matching processes that are not Python: {names}{more}"


def _name(proc: psutil.Process) -> str:
    try:
        return str(proc.name())
    except Exception:
        return "?"


def _result(done: list[Dumped], opts: DumpOptions, notes: list[str]) -> DumpResult:
    from diagkit.run.header import Header

    result = Header(["diag", *sys.argv[1:]]).dump_result(
        repeat=opts.repeat,
        interval_s=opts.interval if opts.repeat > 1 else 0.0,
        processes=[d.result for d in done],
        notes=notes,
    )
    fallback = [
        d.result.pid
        for d in done
        if any(s.source.startswith("faulthandler") for s in d.result.dumps)
    ]
    if fallback and (opts.native or opts.show_locals):
        result.notes.append(
            f"pid {', '.join(map(str, fallback))}: stacks came from faulthandler, which has "
            "neither native frames nor locals (those need py-spy)"
        )
    return result


def _print(result: DumpResult, as_json: bool) -> None:
    if as_json:
        click.echo(result.to_json())
        return
    from diagkit.render.terminal.dump import render_dump

    render_dump(result)
