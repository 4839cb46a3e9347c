"""The raw shape every GPU source is read into: operations on the device, the host API
calls that launched them and the host ranges open around them.

An nsys export and the CUPTI collector both yield these records (times in integer
nanoseconds of the source's clock); ``timeline.summarize`` and ``attribution`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagkit.model.gpu import GpuDevice
from diagkit.model.kinds import RangeStyle


@dataclass(slots=True)
class Op:
    """One kernel, copy or memset on the GPU; times in integer nanoseconds."""

    kind: str  # kernel | memcpy | memset
    start: int
    end: int
    name: str = ""  # kernel name, or the copy direction ("Host-to-Device")
    short_name: str = ""
    bytes: int = 0
    correlation: int | None = None
    process: int = 0
    host_memory: str = ""  # pageable | pinned | managed, for copies
    grid: str = ""
    block: str = ""
    registers: int = 0
    host_timed: bool = False  # counted at a host call, not seen on the device
    thread: int | None = None  # known directly when host_timed


@dataclass(slots=True)
class ApiCall:
    name: str
    start: int
    end: int
    thread: int
    correlation: int | None
    process: int = 0


@dataclass(slots=True)
class HostRange:
    name: str
    style: RangeStyle  # PushPop | StartEnd
    domain: str
    start: int
    end: int
    thread: int


@dataclass
class RawTrace:
    ops: list[Op] = field(default_factory=list)
    api: list[ApiCall] = field(default_factory=list)
    ranges: list[HostRange] = field(default_factory=list)
    marks: int = 0
    window: tuple[int, int] | None = None  # default: the span of everything recorded
    devices: list[GpuDevice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
