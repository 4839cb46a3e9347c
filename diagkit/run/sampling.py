"""How py-spy samples a run: the same settings for a program diag starts and one it attaches to.

Standard library and the sampler only, as for ``launch``: the report model is imported
while the program starts, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from diagkit.collectors.sampler import PySpySampler

if TYPE_CHECKING:
    from diagkit.collectors.sampler import SamplerResult
    from diagkit.model.report import TimeSection

# diag profile's default schedule: 200 Hz holds a 2-second script's shares within ~3 points
# (100 Hz scatters by ~4). py-spy pauses the target for each sample (~0.1-0.3 ms on a
# 2-core VM: 2-6% of the run at 200 Hz), so after 2 s, when enough samples are in, half
# the rate halves that cost while the shares of a long run still gain precision.
FAST_RATE = 200
SLOW_RATE = 100
SLOW_AFTER_S = 2


@dataclass
class SamplingOptions:
    rate: int = FAST_RATE
    slow_rate: int = 0  # after slow_after_s (0: ``rate`` throughout)
    slow_after_s: int = SLOW_AFTER_S
    native: bool = False
    subprocesses: bool = False
    idle: bool = False
    nonblocking: bool = False

    def sampler(self, pid: int, output: Path, alive: Callable[[], bool]) -> PySpySampler:
        """py-spy for ``pid``, writing to ``output``; ``alive`` says when a phase change is moot."""
        return PySpySampler(
            pid,
            output,
            rate=self.rate,
            native=self.native,
            subprocesses=self.subprocesses,
            idle=self.idle,
            nonblocking=self.nonblocking,
            slow_rate=self.slow_rate,
            slow_after_s=self.slow_after_s,
            alive=alive,
        )

    def time_section(self, sampled: SamplerResult, wall: float, how: str = "") -> TimeSection:
        """The time section of the finished sampler (``how`` is added to its source line)."""
        from diagkit.collectors.sampled_time import section_from_sampler

        return section_from_sampler(
            sampled,
            rate=self.rate,
            native=self.native,
            idle=self.idle,
            wall=wall,
            nonblocking=self.nonblocking,
            how=how,
        )
