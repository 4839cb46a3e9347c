"""Every thread's stack at one moment (a timeout, a dump), with what the OS says about the process.

Part of the Report (``Report.stacks``) and of ``diag dump``'s result; the report module
names these too, as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagkit.model.kinds import Verdict


@dataclass
class StackFrame:
    function: str
    file: str
    line: int
    native: bool = False
    locals: dict[str, str] = field(default_factory=dict)


@dataclass
class ThreadStack:
    """One thread. ``thread_id`` is the OS thread id from py-spy, the Python ident from faulthandler."""

    thread_id: int
    name: str
    active: bool | None = None
    owns_gil: bool | None = None
    frames: list[StackFrame] = field(default_factory=list)
    os_state: str = ""  # the kernel's scheduler state: running, sleeping, disk-sleep, ...
    cpu_s: float | None = None  # user+system CPU time of the thread so far
    cpu_share: float | None = None  # of one core, over the moments before this stack was taken
    # At a --timeout, against a dump taken ``StacksSection.compared_s`` earlier (dumping.verdict):
    verdict: Verdict = ""  # "" when not compared
    own_frame: StackFrame | None = None  # the innermost frame of the program's own code


@dataclass
class ChildProcess:
    pid: int
    name: str
    cmdline: str
    python: bool | None = None  # None: the OS would not say


@dataclass
class ProcessFacts:
    """What the OS says about a process; facts it would not let diag read are listed in ``unreadable``."""

    pid: int
    ppid: int = 0
    name: str = ""
    cmdline: list[str] = field(default_factory=list)
    exe: str = ""
    cwd: str = ""
    user: str = ""
    state: str = ""
    started: str = ""  # ISO 8601, local time
    running_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    cpu_share: float | None = None  # of one core, over the moments before the stacks were taken
    rss: int = 0
    threads: int = 0
    open_files: list[str] = field(default_factory=list)
    open_fds: int | None = None
    children: list[ChildProcess] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


@dataclass
class StacksSection:
    """Every thread's stack at one moment (a timeout, a dump)."""

    available: bool = True
    unavailable_reason: str = ""
    source: str = ""
    reason: str = ""
    taken_t: float = 0.0
    pid: int = 0
    threads: list[ThreadStack] = field(default_factory=list)
    process: ProcessFacts | None = None
    compared_s: float = 0.0  # seconds between the dump the threads' verdicts compare with and this
