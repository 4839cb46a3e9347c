"""``diag profile --dask ADDRESS --duration S``: every worker of a running cluster sampled for a
window, into one Report; the cluster keeps running untouched.

Each worker's Nanny (its parent) runs py-spy on it, nonblocking and time-weighted as for a
local run, and polls its RSS (``dask_remote.start_recording``); the scheduler's task stream
for the window gives each task's compute and transfer times. The workers' samples fold into
one timeline with a process per worker, so the tables and the flame graph cover the cluster
and speedscope shows each worker apart. A worker that dies in the window is reported.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from diagkit.collectors import dask_remote
from diagkit.collectors.sampled_time import section_from_sampler
from diagkit.collectors.sampler import SamplerResult
from diagkit.collectors.time_weighted import Timeline
from diagkit.dumping.dask_cluster import connect, run_in_nannies
from diagkit.errors import DiagError
from diagkit.model.dask import DaskSection, DaskWorker, TaskPrefixTime
from diagkit.model.report import MemorySection, Outcome, Report, RssPoint, Target
from diagkit.model.store import SPEEDSCOPE
from diagkit.run.header import Header

COLLECT_PATIENCE_S = 15.0


def profile_dask(
    address: str, seconds: float, rate: int, out_dir: Path, timeout: float, command: list[str]
) -> Report:
    header = Header(command)
    client = connect(address, timeout)
    try:
        return _profile(client, address, seconds, rate, out_dir, header)
    finally:
        client.close()


def _profile(
    client: Any, address: str, seconds: float, rate: int, out_dir: Path, header: Header
) -> Report:
    view = _view(client)
    workers = {
        w["nanny"]: DaskWorker(
            w["address"], w["name"], int(w["pid"] or 0), w["host"], w["nthreads"]
        )
        for w in view["workers"]
        if w["nanny"]
    }
    if not workers:
        raise DiagError(
            f"no worker of {address} has a Nanny: diag profile --dask samples each worker from "
            "its Nanny (start workers with one, the default)"
        )
    # The scheduler keeps a task stream only once asked for one: asked now, it has the window.
    client.get_task_stream(start=time.time())
    wall_t0, t0 = time.time(), time.monotonic()
    nannies = {n: w.address for n, w in workers.items()}
    started = run_in_nannies(client, nannies, dask_remote.start_recording, seconds, rate)
    for nanny, answer in started.items():
        w = workers.get(nanny)
        if w is not None and (isinstance(answer, BaseException) or answer.get("error")):
            w.problem = f"not sampled: {_said(answer)}"
    time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
    stream = client.get_task_stream(start=wall_t0)
    cpu = 0.0
    # A worker restarted in the window has a new address: reach its Nanny through that one.
    now = {w["nanny"]: w["address"] for w in _view(client)["workers"] if w["nanny"]}
    for nanny, w in workers.items():
        if not w.problem and nanny not in now:
            w.problem = "the worker and its Nanny left the cluster during the window"
    ask = {n: now[n] for n, w in workers.items() if not w.problem}
    try:
        collected = run_in_nannies(client, ask, dask_remote.collect_recording, COLLECT_PATIENCE_S)
    except Exception as exc:  # the scheduler lost a worker between the two calls
        raise DiagError(f"the scheduler at {address} could not reach the Nannies: {exc}") from None
    window = time.monotonic() - t0
    timeline = Timeline(rate, subprocesses=True)
    rss_by_worker: dict[str, list[list[float]]] = {}
    for who, answer in collected.items():
        found = workers.get(who)
        if found is None:
            continue
        w = found
        if isinstance(answer, BaseException) or answer.get("error"):
            w.problem = f"not collected: {_said(answer)}"
            continue
        events = json.loads(answer["events"]) if answer["events"].strip() else []
        if events:
            timeline.add_chunk(events, 0.0, None, rate)
        rss_by_worker[w.address] = answer["rss"]
        cpu += answer.get("cpu_s", 0.0)
        if answer["restarted"] or not answer["alive"]:
            w.problem = "the worker died during the window" + (
                " and its Nanny restarted it" if answer["restarted"] else ""
            )
        elif not events:
            w.problem = f"py-spy recorded nothing: {answer['py_spy_said'] or 'no output'}"
    report = header.report(
        Target(argv=[address], kind="dask", cwd=os.getcwd(), python=""),
        Outcome(
            kind="detached",
            cpu_user_s=cpu,
            wall_s=window,
            detail=f"sampled {len(workers)} workers for {window:.1f} s; the cluster runs on",
        ),
    )
    section = DaskSection(scheduler=address, window_s=window, workers=list(workers.values()))
    _tasks(section, stream)
    _rss(section, rss_by_worker, report)
    report.time = _time(timeline, rate, window, out_dir)
    if report.time.available:
        report.files["speedscope"] = SPEEDSCOPE
    _sampled_per_worker(section, report)
    report.dask = section
    return report


def _view(client: Any) -> dict[str, Any]:
    view: dict[str, Any] = client.run_on_scheduler(dask_remote.scheduler_view)
    return view


def _said(answer: Any) -> str:
    if isinstance(answer, BaseException):
        return f"{type(answer).__name__}: {answer}"
    return str(answer.get("error") or answer)


def _time(timeline: Timeline, rate: int, window: float, out_dir: Path) -> Any:
    from diagkit.collectors.sampler import find_py_spy, py_spy_version

    version = py_spy_version(find_py_spy() or "py-spy")
    path = out_dir / SPEEDSCOPE
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = timeline.speedscope(f"py-spy@{version}")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    sampled = SamplerResult(
        ok=bool(timeline.pids),
        reason="no worker was sampled",
        speedscope=path,
        version=version,
        nonblocking=True,
        chunks=1,
        errors=timeline.torn,  # written above: the reads that came back cut short
        reads=timeline.reads_due,
        doc=doc,
    )
    return section_from_sampler(
        sampled,
        rate=rate,
        native=False,
        idle=False,
        wall=window,
        how=", from each worker's Nanny",
        nonblocking=True,
    )


def _tasks(section: DaskSection, stream: list[dict[str, Any]]) -> None:
    from dask.utils import key_split

    by_worker = {w.address: w for w in section.workers}
    rows: dict[str, list[Any]] = {}
    total = 0.0
    for task in stream:
        compute = sum(
            s["stop"] - s["start"]
            for s in task.get("startstops", [])
            if s.get("action") == "compute"
        )
        transfer = sum(
            s["stop"] - s["start"]
            for s in task.get("startstops", [])
            if s.get("action") == "transfer"
        )
        prefix = key_split(task.get("key", "?"))
        row = rows.setdefault(prefix, [0, 0.0, 0.0, 0.0, set()])
        row[0] += 1
        row[1] += compute
        row[2] = max(row[2], compute)
        row[3] += transfer
        row[4].add(task.get("worker", ""))
        total += compute
        w = by_worker.get(task.get("worker", ""))
        if w is not None:
            w.tasks += 1
            w.compute_s += compute
            w.transfer_s += transfer
    section.tasks = len(stream)
    section.prefixes = sorted(
        (
            TaskPrefixTime(p, n, s, s / n, mx, tr, s / total if total else 0.0, len(ws))
            for p, (n, s, mx, tr, ws) in rows.items()
        ),
        key=lambda t: -t.total_s,
    )
    for w in section.workers:
        w.busy_share = w.compute_s / (section.window_s * max(1, w.nthreads))


def _rss(section: DaskSection, by_worker: dict[str, list[list[float]]], report: Report) -> None:
    for w in section.workers:
        sizes = [int(r) for _, r in by_worker.get(w.address, [])]
        if sizes:
            w.peak_rss, w.mean_rss = max(sizes), sum(sizes) // len(sizes)
    # The cluster's memory over the window: the workers' polls summed on a 0.1 s grid.
    grid: dict[int, int] = {}
    for pts in by_worker.values():
        for t, r in pts:
            slot = round(t / dask_remote.RSS_EVERY_S)
            grid[slot] = grid.get(slot, 0) + int(r)
    if not grid:
        report.memory = MemorySection(
            available=False, unavailable_reason="no worker's RSS was read"
        )
        return
    timeline = [RssPoint(t=s * dask_remote.RSS_EVERY_S, rss=r) for s, r in sorted(grid.items())]
    best = max(timeline, key=lambda p: p.rss)
    report.memory = MemorySection(
        peak_rss=best.rss,
        peak_t=best.t,
        peak_source="largest sum of the workers' RSS, polled by their Nannies every 0.1 s",
        final_rss=timeline[-1].rss,
        interval_s=dask_remote.RSS_EVERY_S,
        timeline=timeline,
    )


def _sampled_per_worker(section: DaskSection, report: Report) -> None:
    by_pid = {w.pid: w for w in section.workers}
    for th in report.time.threads:
        name = th.thread
        if name.startswith("Process "):
            pid = int(name.split()[1])
            if pid in by_pid:
                by_pid[pid].sampled_s += th.seconds
