"""The program's garbage collections, counted inside it (target/gc_watch.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GcPause:
    t: float  # seconds from the program's start
    generation: int
    seconds: float


@dataclass
class GcSection:
    available: bool = False
    unavailable_reason: str = "not collected in this run"
    enabled: bool = True  # gc.isenabled() at the end
    # Per generation, 0 to 2:
    collections: list[int] = field(default_factory=list)
    pause_s: list[float] = field(default_factory=list)
    collected: list[int] = field(default_factory=list)  # objects freed
    longest_s: list[float] = field(default_factory=list)
    total_pause_s: float = 0.0
    long_pauses: list[GcPause] = field(default_factory=list)  # the first 200 of 5 ms or more
