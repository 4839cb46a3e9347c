"""Report section of GPU tracing (Nsight Systems export or the in-process collector).

Durations are seconds, sizes bytes, ``*_t`` fields seconds since the start of the
traced window. Summary statistics follow ``nsys stats``: the median of an even
count is the mean of the two middle values, the standard deviation is the sample
one (n - 1) and 0 for a single instance, and ``share`` is a fraction of the rows
of the same table (not of wall time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagkit.model.kinds import GpuWarningKind, RangeStyle


@dataclass
class GpuDurationStats:
    count: int = 0
    total_s: float = 0.0
    mean_s: float = 0.0
    median_s: float = 0.0
    min_s: float = 0.0
    max_s: float = 0.0
    stddev_s: float = 0.0


@dataclass
class GpuByteStats:
    total: int = 0
    mean: float = 0.0
    median: float = 0.0
    min: int = 0
    max: int = 0
    stddev: float = 0.0


@dataclass
class GpuDevice:
    id: int
    name: str
    compute_capability: str = ""
    memory_bytes: int = 0
    multiprocessors: int = 0


@dataclass
class GpuKernel:
    """One kernel name: how often it ran and for how long (device timestamps)."""

    name: str
    time: GpuDurationStats
    share: float  # of all kernel time
    short_name: str = ""
    grid: str = ""  # the most common launch configuration, "x,y,z"
    block: str = ""
    registers_per_thread: int = 0


@dataclass
class GpuTransfer:
    """Copies of one direction (or the memsets): count, bytes, time, and the host memory used.

    ``measured`` is "gpu" for device timestamps, "host" where only the host call
    that caused the copy was timed (CuPy-level counting).
    """

    operation: str  # "Host-to-Device", "Device-to-Host", ..., or "memset"
    time: GpuDurationStats
    bytes: GpuByteStats
    share: float  # of all copy and memset time
    bytes_per_s: float = 0.0
    host_memory: dict[str, int] = field(default_factory=dict)  # "pageable"/"pinned" -> copies
    measured: str = "gpu"


@dataclass
class GpuApiCall:
    """A CUDA runtime or driver API function as the host called it."""

    name: str
    time: GpuDurationStats
    share: float


@dataclass
class GpuRangeKernel:
    name: str
    count: int
    total_s: float


@dataclass
class GpuRangeTransfer:
    operation: str
    count: int
    bytes: int
    total_s: float


@dataclass
class GpuRange:
    """An NVTX, CuPy or diagkit range, with the GPU work launched while it was open.

    GPU work counts for every open range of the launching thread, so a range's
    work includes that of the ranges nested in it. ``gpu_span`` (CuPy-level
    collector) is the time between CUDA events recorded at the range's ends on
    the current stream: it includes the stream's idle time inside the range.
    """

    name: str  # "domain:message" outside the default domain, as nsys writes it
    style: RangeStyle
    time: GpuDurationStats  # host time
    share: float
    domain: str = ""
    kernel_count: int = 0
    kernel_s: float = 0.0
    copy_count: int = 0
    copy_bytes: int = 0
    copy_s: float = 0.0
    kernels: list[GpuRangeKernel] = field(default_factory=list)
    transfers: list[GpuRangeTransfer] = field(default_factory=list)
    gpu_span: GpuDurationStats | None = None


@dataclass
class GpuRangeKernelRow:
    """Kernels by the innermost range open at their launch (``nsys stats --report-opt nvtx-name``)."""

    range: str
    kernel: str
    time: GpuDurationStats
    share: float


@dataclass
class GpuIdleGap:
    start_t: float
    end_t: float
    seconds: float
    during: str = ""  # innermost host range open in the middle of the gap


@dataclass
class GpuIdle:
    """When no kernel, copy or memset ran on any GPU."""

    window_s: float
    busy_s: float
    idle_s: float
    idle_share: float
    first_activity_t: float
    last_activity_t: float
    active_idle_share: float  # idle share between the first and the last GPU activity
    gaps: list[GpuIdleGap] = field(default_factory=list)


@dataclass
class GpuMemory:
    """CuPy memory pool, sampled at range ends and transfers (a peak between samples is missed)."""

    pool_used_peak_bytes: int = 0
    pool_total_peak_bytes: int = 0
    pool_used_final_bytes: int = 0
    device_total_bytes: int = 0
    samples: int = 0


@dataclass
class GpuWarning:
    kind: GpuWarningKind
    message: str
    range: str = ""
    count: int = 0
    bytes: int = 0


@dataclass
class GpuSkippedRows:
    """Rows of an imported export left out of every number: they cannot be real events."""

    table: str
    reason: str  # "end before start", "start is text", ...
    count: int


@dataclass
class GpuSection:
    """Kernels, transfers and ranges on the GPU, and what the source could not see.

    ``available`` is False only when nothing could be collected. Without a GPU
    (``gpu_found`` False) the ranges are still there, with host timings only.
    """

    available: bool = True
    unavailable_reason: str = ""
    source: str = ""  # nsys | nsys-import | cupti | cupy | host
    notes: list[str] = field(default_factory=list)
    source_detail: str = ""
    cannot_see: list[str] = field(default_factory=list)
    gpu_found: bool | None = None  # None: not known (an imported trace)
    gpu_status: str = ""
    devices: list[GpuDevice] = field(default_factory=list)
    window_s: float = 0.0
    kernel_s: float = 0.0
    copy_s: float = 0.0
    copy_bytes: int = 0
    kernels: list[GpuKernel] = field(default_factory=list)
    copies: list[GpuTransfer] = field(default_factory=list)
    memsets: GpuTransfer | None = None
    api_calls: list[GpuApiCall] = field(default_factory=list)
    ranges: list[GpuRange] = field(default_factory=list)
    kernels_by_range: list[GpuRangeKernelRow] = field(default_factory=list)
    outside_ranges: GpuRange | None = None  # GPU work launched while no range was open
    marks: int = 0
    idle: GpuIdle | None = None
    memory: GpuMemory | None = None
    warnings: list[GpuWarning] = field(default_factory=list)
    records_dropped: int = 0
    skipped_rows: list[GpuSkippedRows] = field(default_factory=list)
