"""Nonblocking, time-weighted sampling: py-spy in chunks of a few seconds, back to back.

``--nonblocking`` reads the stacks without pausing the program (a blocking sample stops
every thread for ~0.3 ms plus ~15 µs per frame); a read that races a changing stack fails
and that sample is lost, ~10% of them on a Numba compile. Counting the samples that
succeeded would under-count exactly the code whose stack changes fastest; py-spy's
chrometrace format times each stack until the next one that differs, so every sample
weighs its own interval and the lost time goes to its neighbours (``time_weighted``).

py-spy keeps every chrometrace event in memory until it stops (40-440 KB per second of
run), so it runs ``--duration`` seconds at a time: each chunk's file is folded into the
timeline and deleted as soon as the next py-spy has been started, and the time between
two chunks (py-spy's attach, tens of ms) is measured and reported as not sampled.

A read costs py-spy ~25 µs per thread (2-core VM): 32 threads at 250 Hz keep ~20% of a
core busy, which a program using every core pays for. With ``reads_per_s`` each chunk's
rate is what that many thread-reads a second allow for the threads alive as it starts
(never above ``rate``, never below ``MIN_RATE``), and a chunk whose thread count has
since grown to need half its rate or less is ended early, so a program that starts its
thread pool after its first line pays for one seam, not for a chunk at the full rate.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from diagkit.collectors.sampler import Leg, PySpySampler, SamplerResult, py_spy_version
from diagkit.collectors.thread_ends import ThreadEnds
from diagkit.collectors.threads import start_daemon
from diagkit.collectors.time_weighted import Timeline, load_events

_EXITED = "Stopped sampling because process exited"  # py-spy 0.4's words
# A program with hundreds of threads is still sampled often enough to time its phases.
MIN_RATE = 20
# How often a chunk's thread count is looked at (the RSS sampler counts them every 20 ms).
_LOOK_S = 0.25


class ChunkedSampler(PySpySampler):
    """py-spy ``--nonblocking --idle --threads --format chrometrace`` in ``chunk_s`` runs.

    ``--idle`` puts every live thread in every successful sample, so a stack lasts exactly
    until its thread's next change; waits are left out afterwards, from the frames
    (``idle_frames``), unless the user asked for them. ``--threads`` names each stack's
    native thread, whose end ``thread_ends`` learns from the RSS sampler's polls.
    """

    def __init__(
        self,
        pid: int,
        output: Path,
        *,
        rate: int,
        chunk_s: int,
        alive: Callable[[], bool] | None = None,
        subprocesses: bool = False,
        idle: bool = False,
        reads_per_s: int = 0,
    ) -> None:
        super().__init__(pid, output, rate=rate, subprocesses=subprocesses, idle=idle, alive=alive)
        self.chunk_s = chunk_s
        self.reads_per_s = reads_per_s  # 0: ``rate`` throughout
        self._ends = self.thread_ends = ThreadEnds()
        self.timeline = Timeline(rate, subprocesses)
        self.version = ""
        self._stopped: tuple[float, str] | None = None  # a chunk that sampled nothing

    def chunk_file(self, k: int) -> Path:
        return self.output.with_name(f"profile.chunk{k}.chrometrace.json")

    def rate_for(self, threads: int) -> int:
        """The rate a chunk starts at while ``threads`` threads are alive."""
        if not self.reads_per_s or threads <= 0:
            return self.rate
        return max(min(self.rate, MIN_RATE), min(self.rate, self.reads_per_s // threads))

    def _spec(self) -> tuple[list[str], int, Path]:
        out = self.chunk_file(len(self.legs))
        rate = self.rate_for(self._ends.alive)
        cmd = self.record_command(rate, out, "chrometrace")
        cmd += ["--nonblocking", "--idle", "--threads", "--duration", str(self.chunk_s)]
        return cmd, rate, out

    def _wait(self, leg: Leg) -> None:
        # The follower blocks in waitpid, so the next chunk starts the moment py-spy exits
        # (a timed wait polls with sleeps of up to 50 ms, each one added to the seam); the
        # thread count is looked at by a thread of its own, a wake-up every _LOOK_S.
        done = threading.Event()
        if self.reads_per_s:
            start_daemon(self._cut_when_outnumbered, "diag-py-spy-rate", leg, done)
        try:
            leg.proc.wait()
        finally:
            done.set()

    def _cut_when_outnumbered(self, leg: Leg, done: threading.Event) -> None:
        """End ``leg`` once its threads want half its rate or less; it is cut at most once."""
        while not done.wait(_LOOK_S):
            if leg.sampling_s and self.rate_for(self._ends.alive) * 2 <= leg.rate:
                # SIGINT: py-spy writes its file and exits 0, and the next chunk follows.
                with contextlib.suppress(OSError):
                    leg.proc.send_signal(signal.SIGINT)
                return

    def _first(self) -> tuple[list[str], int, Path]:
        return self._spec()

    def _next(self, ended: Leg) -> tuple[list[str], int, Path] | None:
        # One that never sampled, or failed, would fail again at once: no loop of py-spys.
        # One that saw the program exit says so before diag's reaper may have noticed:
        # a follower then would only fail to find the process.
        if any(_EXITED in line for line in ended.lines):
            return None
        return self._spec() if ended.sampling_s and ended.proc.returncode == 0 else None

    def _on_follower_start(self) -> None:
        self.version = py_spy_version(self.exe or "py-spy")  # while the program runs

    def _done(self, leg: Leg) -> None:
        events, _ = load_events(leg.output)
        with contextlib.suppress(OSError):
            leg.output.unlink()
        if events:
            # py-spy's clock starts as it creates its recorder, a few ms after its spawn,
            # before it attaches: every chunk's times are early alike, and seams keep true.
            self.timeline.add_chunk(events, leg.spawn_s, self._ends.end_after, leg.rate)
        elif (
            self._stopped is None
            and leg is not self.legs[0]
            and not self._stopping  # stopped by diag before it sampled: nothing was missed
            and self._target_lives()
        ):
            said = " ".join(ln.removeprefix("py-spy>").strip() for ln in leg.lines).strip()
            self._stopped = (self._sampled_until(), said or "it wrote no samples")

    def _rate_change(self) -> tuple[int, float]:
        """The lowest rate a chunk sampled at below the first's, and seconds from the first
        chunk's start to the first such chunk's; (0, 0) where one rate held throughout."""
        chunks = self.timeline.chunks
        lower = [c for c in chunks if c.rate < chunks[0].rate] if chunks else []
        if not lower:
            return 0, 0.0
        return min(c.rate for c in lower), round(lower[0].first_s - chunks[0].first_s, 3)

    def _target_lives(self) -> bool:
        return self._alive is None or self._alive()

    def _sampled_until(self) -> float:
        """Seconds from the first py-spy's start to the last chunk's end."""
        last = self.timeline.chunks[-1].close_s if self.timeline.chunks else self.legs[0].spawn_s
        return max(0.0, last - self.legs[0].spawn_s)

    def _result(self, samples: int, errors: int) -> SamplerResult:
        if not any(leg.sampling_s for leg in self.legs):
            return SamplerResult(False, self._explain_failure(), None, samples, errors)
        version = self.version or py_spy_version(self.exe or "py-spy")
        doc = self.timeline.speedscope(f"py-spy@{version}")
        errors += self.timeline.torn  # failed reads py-spy kept, cut short
        tmp = self.output.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(doc, fh, separators=(",", ":"))
        os.replace(tmp, self.output)
        reads = self.timeline.reads_due * max(1, len(self.timeline.pids))
        slow_rate, slow_after_s = self._rate_change()
        stopped_after, why = self._stopped or (0.0, "")
        if not why and self._later_problem:  # diag could not start the next py-spy
            stopped_after, why = self._sampled_until(), self._later_problem
        return SamplerResult(
            True,
            "",
            self.output,
            samples,
            errors,
            version=version,
            pid=self.pid,
            nonblocking=True,
            slow_rate=slow_rate,
            slow_after_s=slow_after_s,
            chunks=len(self.timeline.chunks),
            seams_s=self.timeline.seams_s,
            reads=max(reads, errors),
            stopped_after_s=stopped_after,
            stopped_why=why[-300:],
            doc=doc,
        )
