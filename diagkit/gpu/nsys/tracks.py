"""The GPU timeline of an nsys export, as the trace file draws it (``model.gpu_tracks``).

Read when the export is summarized, so the trace exporter never opens the export: it
reads the timeline from the report folder, the way it reads the report.
"""

from __future__ import annotations

from pathlib import Path

from diagkit.errors import DiagError
from diagkit.gpu.nsys.sqlite import read_trace
from diagkit.model.gpu_tracks import GpuTrackOp, GpuTrackRange, GpuTracks


def gpu_tracks(path: Path) -> GpuTracks:
    """Every kernel, copy, memset and NVTX range of the export at ``path``; ``problem`` says
    why there are none (``path`` is named as given: the trace says where its tracks came from)."""
    if not path.exists():
        return GpuTracks(source=str(path), problem=f"{path}: not found; no GPU tracks")
    try:
        raw, _ = read_trace(path)
    except DiagError as exc:
        return GpuTracks(source=str(path), problem=f"no GPU tracks: {exc.message}")
    starts = [o.start for o in raw.ops] + [r.start for r in raw.ranges]
    return GpuTracks(
        source=str(path),
        t0_ns=raw.window[0] if raw.window else min(starts, default=0),
        ops=[GpuTrackOp(o.kind, o.name, o.start, o.end, o.bytes, o.grid, o.block) for o in raw.ops],
        ranges=[GpuTrackRange(r.name, r.thread, r.start, r.end) for r in raw.ranges],
    )
