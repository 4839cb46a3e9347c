"""py-spy's blocking mode (``--blocking``, ``--native``): its own speedscope files, merged."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from diagkit.collectors.sampler import Leg, PySpySampler, SamplerResult
from diagkit.collectors.speedscope_merge import write_merged


class BlockingSampler(PySpySampler):
    """py-spy's own blocking mode and speedscope file: each sample pauses every thread.

    With ``slow_rate``, py-spy samples at ``rate`` for the first ``slow_after_s`` seconds
    and then a second py-spy takes over at ``slow_rate``: short runs keep the samples
    their shares need, and a long run stops paying for more samples than it can use. The
    two files are merged into one with each sample weighted by its own interval, as
    speedscope's format allows.
    """

    def __init__(
        self,
        pid: int,
        output: Path,
        *,
        rate: int,
        slow_rate: int = 0,
        slow_after_s: int = 0,
        alive: Callable[[], bool] | None = None,
        **kwargs: bool,
    ) -> None:
        super().__init__(pid, output, rate=rate, alive=alive, **kwargs)
        self.phased = slow_rate > 0 and slow_after_s > 0 and alive is not None
        self.slow_rate, self.slow_after_s = slow_rate, slow_after_s

    def command(self, rate: int | None = None, output: Path | None = None) -> list[str]:
        cmd = self.record_command(rate or self.rate, output or self.output, "speedscope")
        return [*cmd, "--idle"] if self.idle else cmd

    def _first(self) -> tuple[list[str], int, Path]:
        if not self.phased:
            return self.command(), self.rate, self.output
        fast = self.output.with_suffix(".fast.json")
        cmd = [*self.command(self.rate, fast), "--duration", str(self.slow_after_s)]
        return cmd, self.rate, fast

    def _next(self, ended: Leg) -> tuple[list[str], int, Path] | None:
        if not self.phased or len(self.legs) > 1:
            return None
        slow = self.output.with_suffix(".slow.json")
        return self.command(self.slow_rate, slow), self.slow_rate, slow

    def _result(self, samples: int, errors: int) -> SamplerResult:
        written = [
            (leg.rate, leg.output)
            for leg in self.legs
            if leg.output.exists() and os.path.getsize(leg.output) > 0
        ]
        if len(written) > 1:
            write_merged(self.output, written)
            for _, f in written:
                f.unlink()
        elif written and written[0][1] != self.output:
            os.replace(written[0][1], self.output)  # py-spy's own weights are already 1/rate
        slow = self.slow_rate if len(written) > 1 else 0
        failed = self._later_problem if self.phased else ""
        if not failed and len(self.legs) > 1 and len(written) < 2:
            said = " ".join(ln.removeprefix("py-spy>").strip() for ln in self.legs[1].lines)
            failed = said.strip() or "it wrote no samples"
        if self.output.exists() and os.path.getsize(self.output) > 0:
            return SamplerResult(
                True,
                "",
                self.output,
                samples,
                errors,
                slow_rate=slow,
                slow_after_s=self.slow_after_s if self.phased else 0,
                slow_failed=failed[-300:],
                pid=self.pid,
            )
        return SamplerResult(False, self._explain_failure(), None, samples, errors)
