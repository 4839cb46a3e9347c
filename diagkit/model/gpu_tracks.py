"""The GPU timeline a trace draws: every kernel, copy and NVTX range of an nsys export.

Written beside the report when the export is read (``store.GPU_TRACKS``), not into
report.json: a long run has millions of kernels, and only the trace wants each one.
Times are the export's nanoseconds; ``t0_ns`` is where the trace's GPU clock starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GpuTrackOp:
    """A kernel, copy or memset on the device."""

    kind: str  # kernel | memcpy | memset
    name: str
    start_ns: int
    end_ns: int
    bytes: int = 0
    grid: str = ""
    block: str = ""


@dataclass
class GpuTrackRange:
    """An NVTX range on a host thread."""

    name: str
    thread: int
    start_ns: int
    end_ns: int


@dataclass
class GpuTracks:
    """What the trace shows of the GPU, or ``problem``: why it shows nothing."""

    source: str  # the export the tracks were read from, as the trace names it
    problem: str = ""
    t0_ns: int = 0  # the export's window start, else its first record
    ops: list[GpuTrackOp] = field(default_factory=list)
    ranges: list[GpuTrackRange] = field(default_factory=list)
