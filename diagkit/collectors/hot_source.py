"""The hot functions' source around their sampled lines, read from the program's files.

Read when the run is collected, so the page of a saved report lists the same lines
after the files have changed or gone. Only what the page shows is kept: a few lines
either side of each sampled line, the hottest first when a function's listing is cut.
"""

from __future__ import annotations

import os
from collections import defaultdict

from diagkit.model.report import LineTime, TimeSection
from diagkit.model.source_listing import SourceLine, SourceListing

SOURCE_CONTEXT = 3
SOURCE_MAX_LINES = 120
SOURCE_MAX_BYTES = 4 << 20


def source_listings(time: TimeSection) -> list[SourceListing]:
    """One listing per function of ``time.lines`` whose file could be read."""
    groups: dict[tuple[str, str], dict[int, LineTime]] = defaultdict(dict)
    for ln in time.lines:
        groups[(ln.function, ln.file)][ln.line] = ln
    out = []
    for (function, file), hot in groups.items():
        text = _read_source(file)
        if not text:
            continue  # the page shows the sampled lines as py-spy saw them
        rows = []
        for n in _wanted_lines(sorted(hot), len(text)):
            src = text[n - 1] if n <= len(text) else hot[n].source if n in hot else ""
            rows.append(SourceLine(n, src.rstrip("\n")))
        out.append(SourceListing(function, file, rows))
    return out


def _wanted_lines(hot: list[int], n_lines: int) -> list[int]:
    keep: set[int] = set()
    for h in hot:
        keep.update(range(max(1, h - SOURCE_CONTEXT), min(n_lines, h + SOURCE_CONTEXT) + 1))
    # Hot lines first when the listing is cut, so a long function keeps what matters.
    ordered = sorted(keep, key=lambda n: min(abs(n - h) for h in hot))[:SOURCE_MAX_LINES]
    return sorted(ordered)


def _read_source(file: str) -> list[str]:
    # Only Python sources: a frame's file name is whatever the program said it was.
    if not file.endswith(".py") or not os.path.isfile(file):
        return []
    try:
        if os.path.getsize(file) > SOURCE_MAX_BYTES:
            return []
        with open(file, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except OSError:
        return []
