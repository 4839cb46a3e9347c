"""A deep pass that runs long says so, measured against the sampled pass."""

from __future__ import annotations

from diagkit.deep.pace import PassPace


def test_a_long_pass_says_its_pace_at_growing_intervals():
    said: list[str] = []
    pace = PassPace("memory", 1.4, said.append)
    for t in range(0, 50):
        pace.tick(float(t), 200 << 20)
    assert said == [
        "memory pass still running: 10.00 s so far, 7x the sampled pass's 1.40 s, RSS 200.0 MiB",
        "memory pass still running: 20.00 s so far, 14x the sampled pass's 1.40 s, RSS 200.0 MiB",
        "memory pass still running: 40.00 s so far, 29x the sampled pass's 1.40 s, RSS 200.0 MiB",
    ]


def test_a_short_pass_says_nothing():
    said: list[str] = []
    pace = PassPace("tracers", 0.5, said.append)
    for t in range(10):
        pace.tick(t * 0.9, 1 << 20)
    assert said == []
