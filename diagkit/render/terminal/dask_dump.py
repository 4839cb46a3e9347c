"""``diag dump --dask`` as text: per worker its memory, heartbeat and tasks with their verdicts,
then what the cluster as a whole shows."""

from __future__ import annotations

import os

import click

from diagkit.model.dask_dump import ClusterDump, WorkerDump
from diagkit.render.text import clip
from diagkit.render.units import fmt_bytes, fmt_s


def render_cluster(c: ClusterDump) -> None:
    click.echo(
        f"Dask cluster {c.address}: {len(c.workers)} workers, {c.tasks} tasks known"
        + (f", {c.queued} queued" if c.queued else "")
        + (f", {c.unrunnable} unrunnable" if c.unrunnable else "")
    )
    for w in c.workers:
        _worker(w)
    if c.verdicts:
        click.echo("\nCluster")
        for line in c.verdicts:
            click.echo(f"  {clip(line)}")
    for note in c.notes:
        click.echo(f"note: {clip(note)}")


def _worker(w: WorkerDump) -> None:
    limit = f" of {fmt_bytes(w.memory_limit)}" if w.memory_limit else ""
    spilled = f", {fmt_bytes(w.spilled)} spilled" if w.spilled else ""
    via = {"nanny": "stacks via its Nanny", "worker": "stacks via its own loop"}.get(w.path, "")
    click.echo(
        f"\n{w.name or w.address} ({w.address}, pid {w.pid}{', ' + via if via else ''})\n"
        f"  memory {fmt_bytes(w.rss)}{limit}, results {fmt_bytes(w.managed)}{spilled}; "
        f"heartbeat {fmt_s(w.last_seen_s)} ago; {w.processing} tasks given, "
        f"{len(w.tasks)} running on {w.nthreads} threads"
    )
    if w.error:
        click.echo(f"  stacks: {clip(w.error)}")
    for t in w.tasks:
        where = f" in {t.function} ({os.path.basename(t.file)}:{t.line})" if t.function else ""
        state = t.verdict or "running"
        click.echo(f"  task {clip(t.key)} for {fmt_s(t.running_s)}: {state}{where}")
