"""Human units for sizes and durations (shared by the terminal, progress and HTML outputs)."""

from __future__ import annotations

import os
from pathlib import Path


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def fmt_s(s: float) -> str:
    if s >= 120:
        return f"{int(s // 60)}m{s % 60:04.1f}s"
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1000:.1f} ms"


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
