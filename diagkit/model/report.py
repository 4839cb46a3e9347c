"""The Report: one typed, versioned record of a run that every renderer and exporter reads.

Collectors fill sections; nothing here knows how a section is collected or shown.
Times are seconds as floats, sizes bytes as ints, and "t" fields are seconds since
the target started (one clock, CLOCK_MONOTONIC, in every process of the run).
A section a collector could not fill says so in ``available``/``unavailable_reason``
instead of being absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from diagkit.model.cpu import CpuLoadSection
from diagkit.model.dask import DaskSection
from diagkit.model.deep import DeepSection
from diagkit.model.findings import Finding
from diagkit.model.flame import FlameTree
from diagkit.model.gc import GcSection
from diagkit.model.gpu import GpuSection
from diagkit.model.imports import ImportsSection
from diagkit.model.kinds import CodeKind, OutcomeKind, TargetKind
from diagkit.model.logs import LogsSection
from diagkit.model.serde import from_dict, to_dict
from diagkit.model.source_listing import SourceListing
from diagkit.model.stacks import ChildProcess as ChildProcess
from diagkit.model.stacks import ProcessFacts as ProcessFacts
from diagkit.model.stacks import StackFrame as StackFrame
from diagkit.model.stacks import StacksSection
from diagkit.model.stacks import ThreadStack as ThreadStack

# MAJOR.MINOR. A field added with a default is a new minor, which older diags still read;
# a field renamed, removed or retyped is a new major, which they refuse (model/reading.py).
# A string field narrowed to the words diag has always written there (model/kinds.py) is
# neither: every report, older or newer, reads as before. A word added to such a set is
# a new major, since the diags before it refuse the word.
SCHEMA_VERSION = "1.5"  # 1.1: gpu.skipped_rows, outcome.diag_signal and killed_by_diag
# 1.2: time.flame and time.sources, outcome.bad_target
# 1.3: time.sample_reads, time.chunks and time.seams_s
# 1.4: findings, gc, logs, time.imports, time.waiting_s and waits, jit.compiles' caller_file and caller_line
# 1.5: cpu, time.threads' seconds and tid, dask


@dataclass
class Target:
    """What ran: the argv the program saw, where, and under which interpreter."""

    argv: list[str]
    kind: TargetKind
    cwd: str
    python: str
    pid: int = 0


@dataclass
class ExceptionInfo:
    type: str
    message: str
    traceback: str
    file: str = ""
    line: int = 0
    function: str = ""


@dataclass
class Outcome:
    """How the run ended (``kind``), and what diag exits with."""

    kind: OutcomeKind
    exit_code: int | None = None
    signal: int | None = None
    signal_name: str = ""
    exception: ExceptionInfo | None = None
    wall_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    detail: str = ""
    diag_exit_code: int = 0
    # The signal diag itself received that ended the run: SIGINT, SIGTERM or SIGHUP ("": none).
    diag_signal: str = ""
    killed_by_diag: bool = False  # the signal that killed the target was sent by diag
    # Why the program named could not be started (no such script or module); "": it started.
    bad_target: str = ""

    def ended_normally(self) -> bool:
        """Exit status 0, or a process diag only watched (attached) or a trace it imported."""
        return (self.kind == "exit" and self.exit_code == 0) or self.kind in (
            "detached",
            "imported",
        )


@dataclass
class FunctionTime:
    """A function's sampled time. ``own``: at the top of the stack; ``total``: anywhere on it."""

    name: str
    file: str
    line: int  # lowest line seen in samples: a stand-in for the definition line
    own_samples: int
    total_samples: int
    own_s: float
    total_s: float
    own_share: float
    total_share: float
    kind: CodeKind = "python"
    calls: int | None = None  # exact, from the --deep pass


@dataclass
class LineTime:
    """A line's samples: ``samples`` with everything it calls; ``own_samples`` where it was
    the innermost line of the program's own code (library and native frames below it count)."""

    function: str
    file: str
    line: int
    samples: int
    seconds: float
    share: float
    source: str = ""
    own_samples: int = 0
    own_share: float = 0.0

    def own_of(self, samples: int) -> float:
        """``own_share``; a report saved before it existed has only ``own_samples``."""
        return self.own_share or (self.own_samples / samples if samples else 0.0)


@dataclass
class ThreadTime:
    thread: str
    samples: int
    share: float
    seconds: float = 0.0  # of work sampled (0: saved before 1.5)
    tid: int = 0  # the native thread id, where py-spy named it (0: not known)


@dataclass
class TimeSection:
    """Where the wall time went, from samples taken outside the process."""

    available: bool = True
    unavailable_reason: str = ""
    source: str = ""
    rate_hz: int = 0
    # From slow_after_s on the rate was slow_rate_hz (0: one rate throughout; nonblocking,
    # the lowest a later chunk ran at for the threads then alive); each sample's seconds
    # are its own interval, so shares stay true across the change.
    slow_rate_hz: int = 0
    slow_after_s: float = 0.0
    native: bool = False
    # py-spy read the stacks without pausing the program, and each sample weighs the time
    # until the next one (a read that failed, sample_errors of them, hands its time on).
    nonblocking: bool = False
    idle_included: bool = False
    samples: int = 0
    sample_errors: int = 0
    sample_reads: int = 0  # nonblocking: the reads py-spy was due to take, failed ones included
    # Nonblocking: py-spy ran in this many chunks back to back; seams_s of the run fell
    # between one's last sample and the next one's first, unsampled.
    chunks: int = 0
    seams_s: float = 0.0
    sampled_s: float = 0.0
    active_s: float = 0.0
    idle_s: float = 0.0
    threads: list[ThreadTime] = field(default_factory=list)
    functions: list[FunctionTime] = field(default_factory=list)
    lines: list[LineTime] = field(default_factory=list)
    # For the page, taken when the run is collected so a saved report needs no other file
    # (a report before 1.2 has neither: its page shows the sampled lines alone).
    flame: FlameTree | None = None
    sources: list[SourceListing] = field(default_factory=list)
    # Samples under the import machinery, by the module imported (None: saved before 1.4).
    imports: ImportsSection | None = None
    # The main thread's seconds waiting (a sleep, a lock, a queue, I/O: ``idle_frames``),
    # whether or not --idle kept them in the tables, and the lines it waited on most.
    waiting_s: float = 0.0
    waits: list[LineTime] = field(default_factory=list)


@dataclass
class RssPoint:
    t: float
    rss: int
    children_rss: int = 0


@dataclass
class MemorySection:
    """Resident memory of the target and its children, sampled from outside."""

    available: bool = True
    unavailable_reason: str = ""
    peak_rss: int = 0
    peak_t: float = 0.0
    peak_source: str = ""
    final_rss: int = 0
    interval_s: float = 0.0
    timeline: list[RssPoint] = field(default_factory=list)


@dataclass
class JitCompile:
    function: str
    signature: str
    start_t: float
    seconds: float  # exclusive of nested compiles
    inclusive_s: float
    ok: bool = True
    # The program's line that called the dispatcher (outermost compiles only; "": nested).
    caller_file: str = ""
    caller_line: int = 0


@dataclass
class JitFunction:
    function: str
    compiles: int
    compile_s: float
    cache_hits: int = 0
    cache_misses: int = 0
    signatures: list[str] = field(default_factory=list)


@dataclass
class JitSection:
    """Numba compilation: what compiled, for which signatures, and what it cost."""

    available: bool = True
    unavailable_reason: str = ""
    numba_version: str = ""
    total_compile_s: float = 0.0
    functions: list[JitFunction] = field(default_factory=list)
    compiles: list[JitCompile] = field(default_factory=list)

    def compiling_s(self) -> float:
        """The seconds during which any compile ran: compiles on several threads overlap,
        so this is the union of their spans, not the sum."""
        total, end = 0.0, float("-inf")
        for a, b in sorted((c.start_t, c.start_t + c.inclusive_s) for c in self.compiles):
            if b > end:
                total += b - max(a, end)
                end = b
        return total


@dataclass
class WarningRecord:
    category: str
    message: str
    file: str
    line: int
    count: int
    first_t: float
    capped: bool = False  # counting stopped at the cap; the true count is higher


@dataclass
class NumericsSection:
    """Warnings the program raised (every occurrence counted, printing left as it was)."""

    available: bool = True
    unavailable_reason: str = ""
    total: int = 0
    warnings: list[WarningRecord] = field(default_factory=list)


@dataclass
class RangeStat:
    name: str
    count: int
    total_s: float
    mean_s: float
    min_s: float
    max_s: float


@dataclass
class RangeEvent:
    """One closed range; ``open``: the program was still inside it when it ended or was
    stopped (``end_t`` is then that moment), and it is not counted in the stats."""

    name: str
    start_t: float
    end_t: float
    thread: int
    depth: int
    open: bool = False


@dataclass
class RangesSection:
    """``diagkit.range`` stages with wall times; events are kept up to a cap, stats always."""

    available: bool = True
    unavailable_reason: str = ""
    stats: list[RangeStat] = field(default_factory=list)
    events: list[RangeEvent] = field(default_factory=list)
    events_dropped: int = 0


@dataclass
class PackageInfo:
    name: str
    version: str
    location: str
    editable: bool = False
    modules: list[str] = field(default_factory=list)


@dataclass
class EnvironmentSection:
    """What the program ran on: interpreter, platform, the packages it imported, and switches."""

    available: bool = True
    unavailable_reason: str = ""
    python_version: str = ""
    python_executable: str = ""
    platform: str = ""
    machine: str = ""
    hostname: str = ""
    cpu_count: int = 0
    packages: list[PackageInfo] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    """One run of ``diag``: every collector's section, and where the side files are."""

    schema_version: str
    diagkit_version: str
    created: str
    command: list[str]
    target: Target
    outcome: Outcome
    # What to fix first, most urgent first (diagnose/findings.py), drawn from the sections.
    findings: list[Finding] = field(default_factory=list)
    time: TimeSection = field(default_factory=TimeSection)
    memory: MemorySection = field(default_factory=MemorySection)
    jit: JitSection = field(default_factory=JitSection)
    numerics: NumericsSection = field(default_factory=NumericsSection)
    gc: GcSection = field(default_factory=GcSection)
    logs: LogsSection = field(default_factory=LogsSection)
    cpu: CpuLoadSection = field(default_factory=CpuLoadSection)
    ranges: RangesSection = field(default_factory=RangesSection)
    environment: EnvironmentSection = field(default_factory=EnvironmentSection)
    stacks: StacksSection | None = None
    dask: DaskSection | None = None  # diag profile --dask: the cluster's workers and tasks
    deep: DeepSection | None = None
    gpu: GpuSection | None = None
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Report:
        return from_dict(cls, json.loads(text))
