"""What ``diag dump --dask`` prints with --json: each worker's tasks, threads and memory, and
what the cluster as a whole shows (idle workers while tasks wait, memory on one worker).

The same field rules as the Report (see serde).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from diagkit.model.dump import ThreadVerdict
from diagkit.model.report import StacksSection
from diagkit.model.serde import from_dict, to_dict

DASK_DUMP_SCHEMA_VERSION = "1.0"


@dataclass
class TaskRun:
    """A task a worker is running, by the scheduler's account, and the thread running it.

    ``verdict``: the thread's (stuck, busy, moving, ...), "waiting" where its stack waits on
    another task's result, "" where no thread of the dumps held the key."""

    key: str
    prefix: str
    running_s: float  # how long the scheduler has seen it executing
    thread_id: int = 0
    verdict: str = ""
    text: str = ""
    function: str = ""  # the innermost frame of the task's own code
    file: str = ""
    line: int = 0


@dataclass
class WorkerDump:
    address: str
    name: str = ""
    host: str = ""
    pid: int = 0
    nanny: str = ""
    nthreads: int = 0
    memory_limit: int = 0  # bytes, 0: none
    rss: int = 0
    managed: int = 0  # the results Dask holds in memory
    spilled: int = 0  # and on disk
    last_seen_s: float = 0.0  # since its last heartbeat reached the scheduler
    processing: int = 0  # tasks the scheduler gave it, running or waiting there
    path: str = ""  # how its stacks were read: "nanny" (its parent) or "worker" (itself)
    tasks: list[TaskRun] = field(default_factory=list)
    verdicts: list[ThreadVerdict] = field(default_factory=list)
    dumps: list[StacksSection] = field(default_factory=list)
    error: str = ""  # why its stacks could not be read


@dataclass
class ClusterDump:
    schema_version: str
    diagkit_version: str
    created: str
    command: list[str]
    address: str
    interval_s: float = 0.0
    workers: list[WorkerDump] = field(default_factory=list)
    queued: int = 0  # tasks the scheduler holds back until a worker has room
    unrunnable: int = 0  # tasks no worker can run (resources, restrictions)
    tasks: int = 0  # tasks the scheduler knows
    verdicts: list[str] = field(default_factory=list)  # about the cluster, one line each
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ClusterDump:
        return from_dict(cls, json.loads(text))
