"""``diag dump`` in the terminal: per process the verdict first, then its facts, then the stacks.

Plain text through click (which drops the colours when the output is not a
terminal): a dump should answer in milliseconds, and rich costs ~30 ms to import.
"""

from __future__ import annotations

import click

from diagkit.model.dump import DumpResult, ProcessDump, ThreadVerdict
from diagkit.model.report import ProcessFacts, StackFrame, StacksSection, ThreadStack
from diagkit.render.units import fmt_bytes, fmt_s, short_path

MAX_FRAMES = 40
LOCAL_WIDTH = 100
_COLOURS = {"stuck": "red", "busy": "yellow", "moving": "green", "unchanged": "magenta"}


def render_dump(result: DumpResult) -> None:
    for i, proc in enumerate(result.processes):
        if i:
            click.echo()
        _process(proc, result.repeat)
    if result.interrupted:
        click.echo(
            click.style("interrupted", fg="yellow", bold=True)
            + f" (Ctrl-C) after {result.rounds} of {result.repeat} dumps"
        )
    for note in result.notes:
        click.echo(click.style("note: ", fg="yellow") + note)


def _process(p: ProcessDump, repeat: int) -> None:
    last = p.dumps[-1] if p.dumps else None
    facts = last.process if last is not None else None
    cmd = " ".join(facts.cmdline) if facts and facts.cmdline else ""
    child = f"  (child of {p.child_of})" if p.child_of else ""
    click.echo(click.style(f"pid {p.pid}", bold=True) + f"  {cmd}{child}")
    if p.summary:
        click.echo(f"  {click.style('verdict', bold=True)}  {_coloured_summary(p.summary)}")
        width = max(len(_thread_label(v.name, v.thread_id)) for v in p.verdicts)
        for v in p.verdicts:
            _verdict_row(v, width)
    elif repeat == 1 and last is not None:
        click.echo(
            click.style("  one dump: --repeat 5 tells stuck threads from busy ones", dim=True)
        )
    if p.exited:
        click.echo(click.style(f"  {p.exited}", fg="red"))
    if p.error:
        click.echo(click.style(f"  {p.error}", fg="red"))
    if facts is not None:
        _facts(facts)
    if last is not None:
        _stacks(last, len(p.dumps), {v.thread_id: v for v in p.verdicts})


def _coloured_summary(text: str) -> str:
    head, sep, rest = text.partition(":")
    colour = _COLOURS.get(head.split()[0])
    return click.style(head, fg=colour, bold=True) + sep + rest


def _thread_label(name: str, tid: int) -> str:
    return f"{name or 'thread'} ({tid})"


def _verdict_row(v: ThreadVerdict, width: int) -> None:
    label = _thread_label(v.name, v.thread_id).ljust(width)
    cpu = "" if v.cpu_share is None else f"  CPU {v.cpu_share:.0%}"
    src = click.style(f"  › {v.source}", dim=True) if v.source else ""
    word, rest = v.text[: len(v.verdict)], v.text[len(v.verdict) :]
    if word == v.verdict:
        text = click.style(word, fg=_COLOURS.get(v.verdict), bold=True) + rest
    else:
        text = v.text
    click.echo(f"    {label}  {text}{cpu}{src}")


def _facts(f: ProcessFacts) -> None:
    cpu = "" if f.cpu_share is None else f"CPU {f.cpu_share:.0%} now"
    total = f.cpu_user_s + f.cpu_system_s
    if f.running_s > 0:
        cpu += f"{', ' if cpu else ''}{total:.1f} s CPU in {fmt_s(f.running_s, 's')} running"
    parts = [
        f.state,
        cpu,
        f"RSS {fmt_bytes(f.rss)}",
        f"{f.threads} thread{'s' if f.threads != 1 else ''}",
    ]
    if f.user:
        parts.append(f"user {f.user}")
    click.echo(f"  {click.style('process', bold=True)}  " + ", ".join(p for p in parts if p))
    more = [f"started {f.started}"]
    if f.cwd:
        more.append(f"cwd {f.cwd}")
    click.echo("           " + "; ".join(more))
    if f.open_files or f.open_fds is not None:
        shown = ", ".join(short_path(x) for x in f.open_files[:5])
        extra = f" (+{len(f.open_files) - 5})" if len(f.open_files) > 5 else ""
        fds = f"{f.open_fds} fds, " if f.open_fds is not None else ""
        files = f"{len(f.open_files)} files" + (f": {shown}{extra}" if shown else "")
        click.echo(f"           open: {fds}{files}")
    if f.children:
        kids = ", ".join(
            f"{c.pid} {c.name}" + ("" if c.python is not False else " (not Python)")
            for c in f.children[:8]
        )
        more_kids = f" (+{len(f.children) - 8})" if len(f.children) > 8 else ""
        click.echo(f"           children: {kids}{more_kids}")
    if f.unreadable:
        click.echo(click.style(f"           not readable: {', '.join(f.unreadable)}", dim=True))


def _stacks(s: StacksSection, n: int, verdicts: dict[int, ThreadVerdict]) -> None:
    which = f"dump {n} of {n}, " if n > 1 else ""
    click.echo(f"  {click.style('stacks', bold=True)}   {which}from {s.source}")
    if s.reason:
        click.echo(click.style(f"           {s.reason}", dim=True))
    for th in s.threads:
        _thread(th, verdicts.get(th.thread_id))


def _thread(th: ThreadStack, v: ThreadVerdict | None) -> None:
    bits = []
    if th.active is not None:
        bits.append("active" if th.active else "idle")
    if th.owns_gil:
        bits.append("holds the GIL")
    if th.os_state:
        bits.append(th.os_state)
    if th.cpu_share is not None:
        bits.append(f"CPU {th.cpu_share:.0%}")
    tag = click.style(f"  [{v.verdict}]", fg=_COLOURS.get(v.verdict)) if v else ""
    name = click.style(f'"{th.name}"', bold=True)
    click.echo(f"  Thread {th.thread_id} {name}  {', '.join(bits)}{tag}")
    for fr in th.frames[:MAX_FRAMES]:
        _frame(fr)
    if len(th.frames) > MAX_FRAMES:
        click.echo(f"      … {len(th.frames) - MAX_FRAMES} more frames")


def _frame(fr: StackFrame) -> None:
    where = f"{short_path(fr.file)}:{fr.line}" if fr.line else short_path(fr.file)
    text = f"      {fr.function} ({where})"
    click.echo(click.style(text, dim=True) if fr.native else text)
    for name, value in fr.locals.items():
        cut = value if len(value) <= LOCAL_WIDTH else value[: LOCAL_WIDTH - 1] + "…"
        click.echo(click.style(f"          {name} = ", dim=True) + cut)
