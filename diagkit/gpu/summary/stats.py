"""Summary statistics computed the way ``nsys stats`` computes them (integer nanoseconds in)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from diagkit.model.gpu import GpuByteStats, GpuDurationStats

NS = 1e9


def _median(values: Sequence[int | float]) -> float:
    s = sorted(values)
    n = len(s)
    mid = n // 2
    return float(s[mid]) if n % 2 else (s[mid - 1] + s[mid]) / 2


def _stddev(values: Sequence[int | float], mean: float) -> float:
    # nsys prints the sample standard deviation, and 0 for a single value.
    n = len(values)
    if n < 2:
        return 0.0
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def durations(ns: Sequence[int]) -> GpuDurationStats:
    """Stats of durations given in nanoseconds, reported in seconds."""
    if not ns:
        return GpuDurationStats()
    total = sum(ns)
    mean = total / len(ns)
    return GpuDurationStats(
        count=len(ns),
        total_s=total / NS,
        mean_s=mean / NS,
        median_s=_median(ns) / NS,
        min_s=min(ns) / NS,
        max_s=max(ns) / NS,
        stddev_s=_stddev(ns, mean) / NS,
    )


def byte_stats(sizes: Sequence[int]) -> GpuByteStats:
    if not sizes:
        return GpuByteStats()
    total = sum(sizes)
    mean = total / len(sizes)
    return GpuByteStats(
        total=total,
        mean=mean,
        median=_median(sizes),
        min=min(sizes),
        max=max(sizes),
        stddev=_stddev(sizes, mean),
    )


class RunningStats:
    """Count, total, min, max and spread of a stream, with the first values kept for the median.

    Used where events are too many to keep (a range entered a million times).
    """

    __slots__ = ("count", "keep", "kept", "max", "min", "sq", "total")

    def __init__(self, keep: int = 100_000) -> None:
        self.count = 0
        self.total = 0
        self.sq = 0.0
        self.min = 0
        self.max = 0
        self.keep = keep
        self.kept: list[int] = []

    def add(self, v: int) -> None:
        if self.count == 0 or v < self.min:
            self.min = v
        if self.count == 0 or v > self.max:
            self.max = v
        self.count += 1
        self.total += v
        self.sq += float(v) * v
        if len(self.kept) < self.keep:
            self.kept.append(v)

    def byte_stats(self) -> GpuByteStats:
        """The same stream read as sizes in bytes."""
        t = self.stats()
        return GpuByteStats(
            total=self.total,
            mean=t.mean_s * NS,
            median=t.median_s * NS,
            min=self.min,
            max=self.max,
            stddev=t.stddev_s * NS,
        )

    def stats(self) -> GpuDurationStats:
        if self.count == 0:
            return GpuDurationStats()
        if self.count == len(self.kept):
            return durations(self.kept)
        mean = self.total / self.count
        var = max(0.0, (self.sq - self.count * mean * mean) / (self.count - 1))
        return GpuDurationStats(
            count=self.count,
            total_s=self.total / NS,
            mean_s=mean / NS,
            median_s=_median(self.kept) / NS,  # of the first ``keep`` values
            min_s=self.min / NS,
            max_s=self.max / NS,
            stddev_s=math.sqrt(var) / NS,
        )
