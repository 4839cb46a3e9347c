"""A GpuSection written back in the CSV layout of ``nsys stats`` reports.

Users who know ``nsys stats`` can read these files as they would its own, and
the tests compare them, row for row, with what nsys printed for the same trace.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from diagkit.model.gpu import GpuDurationStats, GpuSection, GpuTransfer
from diagkit.model.store import gpu_csv

TIME_COLS = [
    "Total Time (ns)",
    "{n}",
    "Avg (ns)",
    "Med (ns)",
    "Min (ns)",
    "Max (ns)",
    "StdDev (ns)",
]


def _ns(x: float) -> str:
    return str(round(x * 1e9))


def _time_cells(t: GpuDurationStats, share: float) -> list[str]:
    return [
        f"{share * 100:.1f}",
        _ns(t.total_s),
        str(t.count),
        f"{t.mean_s * 1e9:.1f}",
        f"{t.median_s * 1e9:.1f}",
        _ns(t.min_s),
        _ns(t.max_s),
        f"{t.stddev_s * 1e9:.1f}",
    ]


def _header(count_name: str, *tail: str) -> list[str]:
    return ["Time (%)", *(c.format(n=count_name) for c in TIME_COLS), *tail]


def _op_label(t: GpuTransfer) -> str:
    return "[CUDA memset]" if t.operation == "memset" else f"[CUDA memcpy {t.operation}]"


def _transfers(sec: GpuSection) -> list[GpuTransfer]:
    return [*sec.copies, *([sec.memsets] if sec.memsets else [])]


def kern_sum(sec: GpuSection) -> list[list[str]]:
    rows = [[*_time_cells(k.time, k.share), k.name] for k in sec.kernels]
    return [_header("Instances", "Name"), *rows]


def kern_sum_nvtx_name(sec: GpuSection) -> list[list[str]]:
    rows = [
        [*_time_cells(r.time, r.share), f"{r.range}/{r.kernel}" if r.range else r.kernel]
        for r in sec.kernels_by_range
    ]
    return [_header("Instances", "Name"), *rows]


def mem_time_sum(sec: GpuSection) -> list[list[str]]:
    ts = sorted(_transfers(sec), key=lambda t: (-t.time.total_s, _op_label(t)))
    return [
        _header("Count", "Operation"),
        *[[*_time_cells(t.time, t.share), _op_label(t)] for t in ts],
    ]


def mem_size_sum(sec: GpuSection) -> list[list[str]]:
    head = ["Total (MB)", "Count", "Avg (MB)", "Med (MB)", "Min (MB)", "Max (MB)", "StdDev (MB)"]
    rows = []
    for t in sorted(_transfers(sec), key=lambda t: (-t.bytes.total, _op_label(t))):
        b = t.bytes
        cells = [b.total, None, b.mean, b.median, b.min, b.max, b.stddev]
        row = [f"{v / 1e6:.3f}" if v is not None else str(t.time.count) for v in cells]
        rows.append([*row, _op_label(t)])
    return [[*head, "Operation"], *rows]


def nvtx_sum(sec: GpuSection) -> list[list[str]]:
    rows = [[*_time_cells(r.time, r.share), r.style, r.name] for r in sec.ranges]
    return [_header("Instances", "Style", "Range"), *rows]


def api_sum(sec: GpuSection) -> list[list[str]]:
    rows = [[*_time_cells(a.time, a.share), a.name] for a in sec.api_calls]
    return [_header("Num Calls", "Name"), *rows]


REPORTS: dict[str, Callable[[GpuSection], list[list[str]]]] = {
    "cuda_gpu_kern_sum": kern_sum,
    "cuda_gpu_kern_sum_nvtx-name": kern_sum_nvtx_name,
    "cuda_gpu_mem_time_sum": mem_time_sum,
    "cuda_gpu_mem_size_sum": mem_size_sum,
    "nvtx_sum": nvtx_sum,
    "cuda_api_sum": api_sum,
}


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_all(sec: GpuSection, folder: Path) -> dict[str, str]:
    """Write the reports that have rows; returns {report name: file name} for Report.files."""
    written = {}
    for name, fn in REPORTS.items():
        rows = fn(sec)
        if len(rows) > 1:
            fname = gpu_csv(name)
            (folder / fname).write_text(to_csv(rows), encoding="utf-8")
            written[f"gpu {name}"] = fname
    return written
