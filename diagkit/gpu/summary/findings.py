"""The patterns in a GPU summary worth a warning line of their own."""

from __future__ import annotations

from diagkit.model.gpu import GpuSection, GpuWarning
from diagkit.render.units import fmt_bytes

HOST_DEVICE = ("Host-to-Device", "Device-to-Host")
SMALL_COPY_BYTES = 1 << 20
MANY_SMALL_COPIES = 20
IDLE_WARN_SHARE = 0.5
IDLE_WARN_MIN_S = 0.01
PAGEABLE_WARN_BYTES = 64 << 20


def warnings_for(sec: GpuSection, small: dict[str, list[int]]) -> list[GpuWarning]:
    """The patterns worth a line of their own; ``small`` maps innermost range -> [count, bytes]."""
    out: list[GpuWarning] = []
    per_call = {r.name: r.time.count for r in sec.ranges}
    for name, (count, nbytes) in sorted(small.items(), key=lambda kv: -kv[1][0]):
        if count < MANY_SMALL_COPIES:
            continue
        where = f"inside range '{name}'" if name else "outside any range"
        calls = per_call.get(name, 0)
        rate = f", {count / calls:.1f} per entry of the range" if calls else ""
        out.append(
            GpuWarning(
                kind="small-transfers",
                message=(
                    f"{count} small host<->device copies {where} (average "
                    f"{fmt_bytes(nbytes / count)}{rate}): a copy in every loop iteration? "
                    "Move the data to the GPU once, before the loop."
                ),
                range=name,
                count=count,
                bytes=nbytes,
            )
        )
    idle = sec.idle
    if idle and idle.window_s >= IDLE_WARN_MIN_S and idle.active_idle_share > IDLE_WARN_SHARE:
        out.append(
            GpuWarning(
                kind="gpu-idle",
                message=(
                    f"The GPU sat idle {idle.active_idle_share:.0%} of the time between its first "
                    "and last activity: the host feeds it too slowly (Python work, small "
                    "launches, synchronizing copies)."
                ),
            )
        )
    pageable = sum(
        c.bytes.total * c.host_memory.get("pageable", 0) // max(1, c.time.count)
        for c in sec.copies
        if c.operation in HOST_DEVICE
    )
    if pageable >= PAGEABLE_WARN_BYTES:
        out.append(
            GpuWarning(
                kind="pageable-copies",
                message=(
                    f"About {fmt_bytes(pageable)} crossed between host and device from pageable "
                    "memory: pinned buffers copy faster and can overlap with kernels."
                ),
                bytes=pageable,
            )
        )
    if sec.records_dropped:
        out.append(dropped_warning(sec.records_dropped))
    return out


def dropped_warning(n: int) -> GpuWarning:
    return GpuWarning(
        kind="records-dropped",
        message=f"{n} GPU activity records were dropped: the totals are too low.",
        count=n,
    )
