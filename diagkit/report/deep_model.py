"""Report section of the ``--deep`` pass (deterministic tracers, run after the sampled pass)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeepSection:
    """Exact counts from the instrumented second pass."""

    available: bool = True
    unavailable_reason: str = ""
    notes: list[str] = field(default_factory=list)
