"""Where the program's imports took its time, from the samples (collectors/import_fold.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Submodule:
    name: str  # dotted: "polars.io.csv"
    seconds: float  # inclusive: the imports it made itself count
    share: float  # of the program's sampled seconds, as the time tables' shares are


@dataclass
class ImportedModule:
    """A top-level import ("polars") and its slowest submodules."""

    name: str
    seconds: float
    share: float
    slowest: list[Submodule] = field(default_factory=list)


@dataclass
class ImportsSection:
    total_s: float = 0.0  # every top-level import's seconds together
    share: float = 0.0
    modules: list[ImportedModule] = field(default_factory=list)  # top-level, slowest first
