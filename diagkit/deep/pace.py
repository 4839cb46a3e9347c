"""How long a deep pass has run, said while it runs: tracers can make a run take many times
the sampled pass (jitted code run as Python under ``--no-jit``, tracemalloc on call-heavy
code), and the program's own output goes to the pass's log, so nothing else shows that the
run is alive. The sampled pass is the yardstick: each line says how many times the sampled
pass's wall time this pass has taken so far. Nothing in the pass measures how far through
the program it is, so no finishing time is promised."""

from __future__ import annotations

from collections.abc import Callable

from diagkit.render.units import fmt_bytes, fmt_s

FIRST_LINE_S = 10.0  # a pass shorter than this says nothing while it runs


class PassPace:
    """Progress for one deep pass: a line at 10 s, 20 s, 40 s... of the pass."""

    def __init__(
        self,
        name: str,
        sampled_s: float,
        say: Callable[[str], None],
        first_line_s: float = FIRST_LINE_S,
    ) -> None:
        self.name = name
        self.sampled_s = sampled_s
        self._say = say
        self._next = first_line_s

    def tick(self, elapsed: float, rss: int) -> None:
        if elapsed < self._next:
            return
        self._next = elapsed * 2
        pace = (
            f", {elapsed / self.sampled_s:.0f}x the sampled pass's {fmt_s(self.sampled_s)}"
            if self.sampled_s > 0
            else ""
        )
        self._say(
            f"{self.name} pass still running: {fmt_s(elapsed)} so far{pace}, RSS {fmt_bytes(rss)}"
        )
