"""Report section of the ``--deep`` passes: deterministic tracers, run after the sampled pass.

The sampled pass stays the source of time shares. The deep passes add what only
tracers know exactly: call counts (cProfile), per-line hits (line_profiler),
allocation sites at the traced peak (tracemalloc) and per-line memory increments.
Their timings are inflated by the tracers themselves and are kept only as a
within-function guide; ``sources`` says which number came from which pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagkit.model.kinds import DeepPassName


@dataclass
class DeepPass:
    """One instrumented run of the program after the sampled one."""

    name: DeepPassName
    tools: list[str]
    wall_s: float
    outcome: str
    exit_code: int | None = None
    jit_disabled: bool = False
    complete: bool = True  # the tracers wrote their results (False: the pass was cut short)


@dataclass
class CallEdge:
    function: str
    file: str
    line: int
    calls: int
    total_s: float


@dataclass
class CallStat:
    """cProfile's row for one function: exact counts, tracer-inflated times."""

    function: str
    file: str
    line: int  # first line of the definition
    calls: int  # every call, recursive ones included
    primitive_calls: int  # calls not made from inside the same function
    own_s: float
    total_s: float
    callers: list[CallEdge] = field(default_factory=list)
    callees: list[CallEdge] = field(default_factory=list)


@dataclass
class LineHits:
    line: int
    hits: int
    seconds: float
    share: float  # of the time traced on all lines of the function
    source: str = ""


@dataclass
class LineProfile:
    """line_profiler's table for one function. ``status``: traced, not called, jitted."""

    function: str
    file: str
    line: int
    reason: str  # why it was traced: "hot in the sampled pass", "--lines", "jitted (--no-jit)"
    status: str
    total_s: float = 0.0
    lines: list[LineHits] = field(default_factory=list)


@dataclass
class AllocFrame:
    function: str
    file: str
    line: int
    source: str = ""


@dataclass
class AllocSite:
    """Live heap at the snapshot, grouped by the first line outside libraries that led to it."""

    file: str
    line: int
    bytes: int
    count: int
    source: str = ""
    origin: str = ""  # the innermost frame ("file:line") when that lies in a library


@dataclass
class AllocSection:
    """tracemalloc in its own pass: the traced peak and the allocation sites live near it."""

    available: bool = True
    unavailable_reason: str = ""
    frames: int = 0  # traceback depth kept per allocation
    traced_peak: int = 0  # tracemalloc's exact high-water mark of traced heap
    snapshot_bytes: int = 0  # traced heap when the sites below were taken
    snapshot_t: float = 0.0
    sites: list[AllocSite] = field(default_factory=list)
    largest_bytes: int = 0
    largest_traceback: list[AllocFrame] = field(default_factory=list)  # outermost first


@dataclass
class MemoryLine:
    line: int
    increment: int  # bytes of RSS the line added, summed over its executions
    peak_rss: int  # highest RSS seen right after the line ran
    hits: int
    source: str = ""


@dataclass
class MemoryLineProfile:
    """RSS before and after each line of a named function (``--memory-lines``)."""

    function: str
    file: str
    line: int
    status: str
    lines: list[MemoryLine] = field(default_factory=list)


@dataclass
class DeepSection:
    """Exact counts from the instrumented passes, and whether those passes ran like the sampled one."""

    available: bool = True
    unavailable_reason: str = ""
    notes: list[str] = field(default_factory=list)
    jit_disabled: bool = False  # the tracers pass ran with NUMBA_DISABLE_JIT=1 (--no-jit)
    # Which pass and tool each kind of number came from.
    sources: dict[str, str] = field(default_factory=dict)
    passes: list[DeepPass] = field(default_factory=list)
    calls: list[CallStat] = field(default_factory=list)
    lines: list[LineProfile] = field(default_factory=list)
    allocations: AllocSection | None = None
    memory_lines: list[MemoryLineProfile] = field(default_factory=list)
    diverged: bool = False
    divergence: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # --lines/--memory-lines names not found
