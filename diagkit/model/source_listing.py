"""The hot functions' source around their sampled lines, as the report page lists it.

Read from the program's files when the run is collected: by the time a saved report is
shown again, the files may have changed or be gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceLine:
    line: int
    text: str


@dataclass
class SourceListing:
    """Lines of ``file`` around the sampled lines of ``function``; a gap in the numbers is a
    gap in the listing."""

    function: str
    file: str
    lines: list[SourceLine] = field(default_factory=list)
