"""Human units for sizes and durations (shared by the terminal, progress and HTML outputs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def fmt_s(s: float, precision: Literal["ms", "ns", "s"] = "ms") -> str:
    """A duration in seconds, as fine as ``precision`` asks below one second:

    - "ms", a run and its parts: to 0.1 ms;
    - "ns", GPU work (kernels of a few µs): in ns and µs, three significant digits in ms;
    - "s", how long a process has been running (days, at times): to 0.1 s under a minute,
      then minutes and seconds, then hours and minutes.
    """
    if s != s:  # NaN, from a report written elsewhere
        return "n/a"
    a = abs(s)
    if precision == "s":
        if a >= 3600:
            return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
        if a >= 60:
            return f"{int(s // 60)}m{int(s % 60):02d}s"
        return f"{s:.1f} s"
    if a >= 120:
        return f"{int(s // 60)}m{s % 60:04.1f}s"
    if a >= 1:
        return f"{s:.2f} s"
    if precision == "ms":
        return f"{s * 1000:.1f} ms"
    if a == 0:
        return "0"
    if a < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if a < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.2f} ms"


def short_path(path: str) -> str:
    """Relative to the working directory when inside it, else the last three parts."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    if rel.startswith(".."):
        parts = Path(path).parts
        return os.path.join("…", *parts[-3:]) if len(parts) > 3 else path
    return rel
