"""A Dask cluster sampled for a window (``diag profile --dask``): its workers and its tasks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DaskWorker:
    address: str
    name: str = ""
    pid: int = 0
    host: str = ""
    nthreads: int = 0
    peak_rss: int = 0  # while sampled, from its Nanny's polls
    mean_rss: int = 0
    tasks: int = 0  # tasks it computed in the window
    compute_s: float = 0.0  # their compute time, summed
    transfer_s: float = 0.0  # time fetching their inputs from other workers
    busy_share: float = 0.0  # compute time over (window x threads)
    sampled_s: float = 0.0  # the work py-spy saw in this worker's threads
    problem: str = ""  # it died, was restarted, or could not be sampled: said, not fatal


@dataclass
class TaskPrefixTime:
    """Tasks of one prefix (``inc`` for ``inc-3a4b...``) that ran in the window."""

    prefix: str
    count: int
    total_s: float
    mean_s: float
    max_s: float
    transfer_s: float
    share: float  # of all tasks' compute time in the window
    workers: int  # on how many workers they ran


@dataclass
class DaskSection:
    scheduler: str
    window_s: float
    path: str = "nanny"  # how the workers were sampled
    workers: list[DaskWorker] = field(default_factory=list)
    prefixes: list[TaskPrefixTime] = field(default_factory=list)
    tasks: int = 0  # in the task stream for the window
    notes: list[str] = field(default_factory=list)
