"""How py-spy samples a run: the same settings for a program diag starts and one it attaches to.

Standard library and the samplers only, as for ``launch``: the report model is imported
while the program starts, not before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from diagkit.collectors.blocking_sampler import BlockingSampler
from diagkit.collectors.chunked_sampler import ChunkedSampler
from diagkit.errors import DiagError

if TYPE_CHECKING:
    from diagkit.collectors.sampler import PySpySampler, SamplerResult
    from diagkit.model.report import JitCompile, TimeSection

# The default, nonblocking: reads cost the program ~0 at any depth, so one rate serves the
# whole run. 250 Hz gives a 2-second script ~500 samples (binomial noise ~2.2 points on a
# 50% share, the shares measured within ~2 points of the truth), where py-spy's chrometrace
# stays at 40-440 KB a second in memory and a chunk's file is read in well under a second.
NONBLOCKING_RATE = 250
# Thread-reads a second py-spy is given where the user set no rate: a read costs it ~25 µs a
# thread, so this keeps it near 5% of a core, which 8 threads at 250 Hz use; 32 threads get
# 62 Hz, still ~250 samples a second across the program.
READS_PER_S = 2000
# Seconds per py-spy: a chunk's events (up to ~4 MB at the fastest-changing stacks) are
# held in py-spy's memory until it ends; a seam between two chunks (py-spy attaching again,
# tens of ms) costs well under 1% of the time at this length.
CHUNK_S = 10
# ``--blocking``'s schedule: 200 Hz holds a 2-second script's shares within ~3 points
# (100 Hz scatters by ~4). py-spy pauses the target for each sample (~0.1-0.3 ms on a
# 2-core VM: 2-6% of the run at 200 Hz), so after 2 s, when enough samples are in, half
# the rate halves that cost while the shares of a long run still gain precision.
FAST_RATE = 200
SLOW_RATE = 100
SLOW_AFTER_S = 2


def chunk_seconds() -> int:
    """``DIAGKIT_CHUNK_S``: seconds per py-spy, for tests and diagnosis (a 3-second program
    over 1-second chunks shows the seams); CHUNK_S otherwise."""
    raw = os.environ.get("DIAGKIT_CHUNK_S", "")
    if not raw:
        return CHUNK_S
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise DiagError(f"DIAGKIT_CHUNK_S must be a whole number of seconds, 1 or more: {raw!r}")
    return value


@dataclass
class SamplingOptions:
    rate: int = NONBLOCKING_RATE
    slow_rate: int = 0  # blocking only: after slow_after_s (0: ``rate`` throughout)
    slow_after_s: int = SLOW_AFTER_S
    native: bool = False
    subprocesses: bool = False
    idle: bool = False
    # py-spy cannot read native stacks without pausing the program: --native is blocking.
    blocking: bool = False
    chunk_s: int = field(default_factory=chunk_seconds)
    reads_per_s: int = 0  # nonblocking: the rate falls as threads are added (0: it holds)

    @property
    def nonblocking(self) -> bool:
        return not (self.blocking or self.native)

    def sampler(self, pid: int, output: Path, alive: Callable[[], bool]) -> PySpySampler:
        """py-spy for ``pid``, writing to ``output``; ``alive`` says when a next py-spy is moot."""
        if self.nonblocking:
            return ChunkedSampler(
                pid,
                output,
                rate=self.rate,
                chunk_s=self.chunk_s,
                reads_per_s=self.reads_per_s,
                alive=alive,
                subprocesses=self.subprocesses,
                idle=self.idle,
            )
        return BlockingSampler(
            pid,
            output,
            rate=self.rate,
            native=self.native,
            subprocesses=self.subprocesses,
            idle=self.idle,
            slow_rate=self.slow_rate,
            slow_after_s=self.slow_after_s,
            alive=alive,
        )

    def time_section(
        self,
        sampled: SamplerResult,
        wall: float,
        how: str = "",
        compiles: list[JitCompile] | None = None,
        blocked: frozenset[int] = frozenset(),
    ) -> TimeSection:
        """The time section of the finished sampler (``how`` is added to its source line;
        ``compiles``: Numba's, whose samples it shows as the compile they are part of)."""
        from diagkit.collectors.sampled_time import section_from_sampler

        return section_from_sampler(
            sampled,
            rate=self.rate,
            native=self.native,
            idle=self.idle,
            wall=wall,
            nonblocking=self.nonblocking,
            how=how,
            compiles=compiles or [],
            blocked=blocked,
        )


def sampling_for(
    rate: int | None,
    *,
    native: bool = False,
    blocking: bool = False,
    idle: bool = False,
    subprocesses: bool = False,
) -> SamplingOptions:
    """The settings for a user's choices: an explicit rate holds throughout; blocking, the
    rate halves after the first seconds; nonblocking, it falls as threads are added."""
    paused = blocking or native
    return SamplingOptions(
        rate=rate or (FAST_RATE if paused else NONBLOCKING_RATE),
        slow_rate=SLOW_RATE if paused and not rate else 0,
        reads_per_s=0 if rate else READS_PER_S,
        native=native,
        subprocesses=subprocesses,
        idle=idle,
        blocking=paused,
    )
