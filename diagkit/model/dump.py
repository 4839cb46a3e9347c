"""What ``diag dump`` prints with --json: per process, each dump's stacks and facts, and verdicts.

The same field rules as the Report (see serde): str, int, float, bool,
dataclasses, list[T], dict[str, T] and T | None only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from diagkit.model.kinds import Verdict
from diagkit.model.report import StacksSection
from diagkit.model.serde import from_dict, to_dict

DUMP_SCHEMA_VERSION = "1.1"  # 1.1: interrupted, rounds


@dataclass
class ThreadVerdict:
    """Whether a thread's stack moved across the dumps.

    ``verdict``: stuck (same stack, no CPU), busy (same stack, CPU), moving
    (the stack changed), unchanged (same stack, CPU unknown), started or ended
    (not seen in every dump). ``function``/``file``/``line`` name the innermost
    Python frame for stuck and busy, and the deepest frame every dump shared
    for moving.
    """

    thread_id: int
    name: str
    verdict: Verdict
    text: str
    function: str = ""
    file: str = ""
    line: int = 0
    source: str = ""  # that line of the file, when diag can read it
    native: str = ""  # innermost native frame (with --native)
    caller: str = ""  # the innermost frame of the program's own code, when a library's is on top
    dumps: int = 0
    cpu_s: float | None = None
    cpu_share: float | None = None


@dataclass
class ProcessDump:
    pid: int
    child_of: int = 0
    summary: str = ""  # the verdict in one line (with --repeat)
    dumps: list[StacksSection] = field(default_factory=list)
    verdicts: list[ThreadVerdict] = field(default_factory=list)
    exited: str = ""  # set when the process ended before the last dump
    error: str = ""  # why it could not be dumped at all


@dataclass
class DumpResult:
    schema_version: str
    diagkit_version: str
    created: str
    command: list[str]
    repeat: int = 1
    interval_s: float = 0.0
    processes: list[ProcessDump] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rounds: int = 0  # rounds of dumps taken (fewer than repeat when interrupted or all exited)
    interrupted: bool = False  # a Ctrl-C ended the rounds early; what was taken is here

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> DumpResult:
        return from_dict(cls, json.loads(text))
