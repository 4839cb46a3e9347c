"""Findings about a Dask cluster sampled for a window (``report.dask``): a task prefix that
holds most of the compute, an idle worker beside busy ones, transfers that rival the compute,
and a worker that died."""

from __future__ import annotations

from diagkit.model.findings import Evidence, Finding
from diagkit.model.report import Report
from diagkit.render.units import fmt_s

SLOW_PREFIX_SHARE = 0.5  # of the window's task compute time
IDLE_BUSY = 0.2  # a worker computing less than this share of its thread time
BUSY = 0.6  # while another computes at least this
TRANSFER_SHARE = 0.2  # transfer time against compute time


def dask_findings(r: Report) -> list[Finding]:
    d = r.dask
    if d is None:
        return []
    out = []
    total = sum(p.total_s for p in d.prefixes)
    if d.prefixes and total > 0 and len(d.prefixes) > 1:
        top = d.prefixes[0]
        if top.share >= SLOW_PREFIX_SHARE:
            out.append(
                Finding(
                    kind="dask",
                    severity="medium",
                    message=(
                        f"tasks {top.prefix} held {top.share:.0%} of the cluster's compute in the "
                        f"window ({top.count} tasks, {fmt_s(top.total_s)}, mean {fmt_s(top.mean_s)})"
                    ),
                    advice=(
                        f"speed up {top.prefix} (its hot functions lead the tables), or split it "
                        "into more, smaller tasks if the workers wait for it"
                    ),
                    where=top.prefix,
                    at_stake_s=top.total_s,
                    evidence=[
                        Evidence("compute seconds", round(top.total_s, 3), "s"),
                        Evidence("share of the compute", round(top.share, 4), "share"),
                        Evidence("tasks", top.count, "count"),
                    ],
                )
            )
    busiest = max((w.busy_share for w in d.workers), default=0.0)
    idle = [w for w in d.workers if w.busy_share < IDLE_BUSY and not w.problem]
    if busiest >= BUSY and idle:
        names = ", ".join(w.name or w.address for w in idle[:4])
        out.append(
            Finding(
                kind="dask",
                severity="medium",
                message=(
                    f"{len(idle)} worker{'s' if len(idle) > 1 else ''} ({names}) computed under "
                    f"{IDLE_BUSY:.0%} of the window while another computed {busiest:.0%}"
                ),
                advice=(
                    "the work is not spread: more, smaller partitions or tasks; check worker "
                    "restrictions and that the data is not all on one worker"
                ),
                where=names,
                at_stake_s=d.window_s * (busiest - min(w.busy_share for w in idle)),
                evidence=[
                    Evidence("busiest worker's compute share", round(busiest, 4), "share"),
                    Evidence("idle workers", len(idle), "count"),
                ],
            )
        )
    transfer = sum(w.transfer_s for w in d.workers)
    compute = sum(w.compute_s for w in d.workers)
    if compute > 0 and transfer >= TRANSFER_SHARE * compute:
        out.append(
            Finding(
                kind="dask",
                severity="medium",
                message=(
                    f"workers spent {fmt_s(transfer)} fetching task inputs from each other "
                    f"against {fmt_s(compute)} computing ({transfer / compute:.0%})"
                ),
                advice=(
                    "keep data where it is used: scatter shared inputs once (broadcast=True), "
                    "fewer and larger results, or fuse tasks that pass big arrays along"
                ),
                where="transfers",
                at_stake_s=transfer,
                evidence=[
                    Evidence("transfer seconds", round(transfer, 3), "s"),
                    Evidence("compute seconds", round(compute, 3), "s"),
                ],
            )
        )
    for w in d.workers:
        if w.problem.startswith("the worker died"):
            out.append(
                Finding(
                    kind="dask",
                    severity="high",
                    message=f"worker {w.name or w.address} (pid {w.pid}): {w.problem}",
                    advice=(
                        "a worker that dies loses its tasks and results: its Nanny's log says "
                        "why (memory limit, a crash in C code); the memory section shows its peak"
                    ),
                    where=w.address,
                    evidence=[Evidence("peak RSS while sampled", w.peak_rss, "bytes")],
                )
            )
    return out
