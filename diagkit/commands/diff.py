"""``diag diff``: what got slower or bigger between two saved reports; ``--fail-above`` for CI."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from diagkit.commands.common import console, load_report
from diagkit.commands.options import FiniteFloat, FolderPath
from diagkit.compare.changes import Change, DiffOptions, DiffResult, diff_reports
from diagkit.compare.code_paths import portable_argv
from diagkit.errors import ExitCode
from diagkit.model.report import Report
from diagkit.model.store import REPORT

SHOWN = 25


@click.command()
@click.argument("base", type=FolderPath(path_type=Path))
@click.argument("new", type=FolderPath(path_type=Path))
@click.option(
    "--fail-above",
    "fail_above",
    type=FiniteFloat(min=0),
    metavar="PCT",
    help="Exit with status 1 when anything got more than PCT percent slower or bigger "
    "(times: against the rest of the run, unless --wall), or when a run on "
    "either side did not finish.",
)
@click.option(
    "--min-share",
    type=FiniteFloat(0, 100),
    default=2.0,
    show_default=True,
    metavar="PCT",
    help="Ignore entries under PCT percent of the base run (time, memory).",
)
@click.option(
    "--min-time",
    type=FiniteFloat(min=0),
    default=0.05,
    show_default=True,
    metavar="SECONDS",
    help="Ignore times under SECONDS in both runs.",
)
@click.option(
    "--min-mib",
    type=FiniteFloat(min=0, max=1e12),
    default=4.0,
    show_default=True,
    metavar="MIB",
    help="Ignore memory under MIB in both runs, and changes smaller than half of it.",
)
@click.option(
    "--wall",
    is_flag=True,
    help="Compare wall-clock seconds as measured, not CPU time "
    "(for programs that wait on I/O, on a quiet machine).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def diff(
    base: Path,
    new: Path,
    fail_above: float | None,
    min_share: float,
    min_time: float,
    min_mib: float,
    wall: bool,
    as_json: bool,
) -> int:
    """Compare two reports (folders or report.json files): BASE, then NEW.

    BASE or NEW may also be a folder of report folders (several runs of the same
    work): each entry is then taken from its best run, which takes the noise of a
    shared machine out."""
    runs_a, runs_b = _load_side(base), _load_side(new)
    rep_a, rep_b = runs_a[0], runs_b[0]
    opts = DiffOptions(
        min_share=min_share / 100, min_time=min_time, min_bytes=int(min_mib * 2**20), wall=wall
    )
    result = diff_reports(runs_a, runs_b, opts)
    if portable_argv(rep_a.target) != portable_argv(rep_b.target):
        result.notes.append(
            f"the runs differ: {' '.join(rep_a.target.argv)!r} and {' '.join(rep_b.target.argv)!r}"
        )
    over = result.over(fail_above) if fail_above is not None else []
    if as_json:
        click.echo(json.dumps(_as_json(base, new, opts, result, fail_above, over), indent=1))
    else:
        _print(base, new, rep_a, rep_b, result)
    if fail_above is not None and result.unfinished:
        click.echo(
            f"diag: --fail-above {fail_above:g}% fails: the {result.unfinished[0]}"
            + (f" (and {len(result.unfinished) - 1} more)" if len(result.unfinished) > 1 else ""),
            err=True,
        )
        return ExitCode.FAILED
    if over:
        worst = over[0]
        click.echo(
            f"diag: {len(over)} change(s) above --fail-above {fail_above:g}%: "
            f"{worst.kind} {worst.name} {_pct(worst)}",
            err=True,
        )
        return ExitCode.FAILED
    return ExitCode.OK


def _load_side(path: Path) -> list[Report]:
    """One report, or every report in the folders directly inside ``path``."""
    if path.is_dir() and not (path / REPORT).exists():
        runs = sorted(p for p in path.iterdir() if (p / REPORT).is_file())
        if runs:
            return [_load(p) for p in runs]
    return [_load(path)]


def _load(path: Path) -> Report:
    return load_report(path)[0]


def _pct(c: Change) -> str:
    return "new" if c.pct is None else f"{c.pct * 100:+.1f}%"


def _fmt(value: float, unit: str) -> str:
    from diagkit.render.units import fmt_bytes, fmt_s

    return fmt_bytes(value) if unit == "B" else fmt_s(value)


def _delta(c: Change) -> str:
    return ("+" if c.delta > 0 else "-") + _fmt(abs(c.delta), c.unit)


def _print(base: Path, new: Path, a: Report, b: Report, result: DiffResult) -> None:
    from rich.markup import escape

    from diagkit.render.terminal.table_fit import Column, table
    from diagkit.render.units import fmt_s

    con = console()
    con.rule(f"[bold]diag diff[/] {escape(str(base))} → {escape(str(new))}")
    for run in result.unfinished:
        con.print(
            f"[bold red]not comparable:[/] the {escape(run)}: its times are of work cut short"
        )
    oa, ob = a.outcome, b.outcome
    con.print(
        f"wall {fmt_s(oa.wall_s)} → {fmt_s(ob.wall_s)}   "
        f"cpu {fmt_s(oa.cpu_user_s + oa.cpu_system_s)} → {fmt_s(ob.cpu_user_s + ob.cpu_system_s)}   "
        + (
            "[dim]times below: wall-clock seconds as measured[/]"
            if result.clock == "wall"
            else "[dim]times below: CPU seconds (sample share × process CPU; measured times × CPU/wall)[/]"
        )
    )
    for title, rows, colour in (
        ("Slower or bigger", result.regressions, "red"),
        ("Faster or smaller", result.improvements, "green"),
    ):
        if not rows:
            con.print(f"[bold]{title}[/]: nothing above the noise")
            continue
        numbers = (Column(h, "number") for h in ("change", "", "vs rest", "base → new"))
        tab = table([*numbers, Column("kind"), Column("what")], f"[bold]{title}[/] ({len(rows)})")
        for c in rows[:SHOWN]:
            what = escape(c.name) + (f" [dim]{escape(c.where)}[/]" if c.where else "")
            rest = "" if c.vs_rest is None else f"{c.vs_rest * 100:+.0f}%"
            kind = c.kind if c.decides else f"{c.kind} [dim](info)[/]"
            tab.add_row(
                f"[{colour}]{_pct(c)}[/]",
                _delta(c),
                rest,
                f"{_fmt(c.base, c.unit)} → {_fmt(c.new, c.unit)}",
                kind,
                what,
            )
        con.print(tab)
        if len(rows) > SHOWN:
            con.print(f"[dim]… {len(rows) - SHOWN} more (--json lists all)[/]")
    con.print(f"[dim]{result.ignored} entries unchanged or under the noise floor[/]")
    for title, found, colour in (
        ("Findings that appeared", result.appeared, "red"),
        ("Findings that went away", result.went_away, "green"),
    ):
        for f in found:
            con.print(f"[bold {colour}]{title}:[/] {escape(f.message)}")
    for note in result.notes:
        con.print(f"[yellow]note:[/] {escape(note)}")


def _as_json(
    base: Path,
    new: Path,
    opts: DiffOptions,
    result: DiffResult,
    fail_above: float | None,
    over: list[Change],
) -> dict[str, object]:
    return {
        "base": str(base),
        "new": str(new),
        "clock": result.clock,
        "thresholds": asdict(opts),
        "regressions": [asdict(c) for c in result.regressions],
        "improvements": [asdict(c) for c in result.improvements],
        "ignored": result.ignored,
        "notes": result.notes,
        "unfinished": result.unfinished,
        "findings_appeared": [asdict(f) for f in result.appeared],
        "findings_went_away": [asdict(f) for f in result.went_away],
        "fail_above": fail_above,
        "failed": [asdict(c) for c in over],
    }
