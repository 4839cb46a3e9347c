"""What diag's in-program collectors cost the program: the GC watcher and the logging recorder,
on and off, side by side in one process.

    python scripts/bench_inproc.py [--rounds 7]

Three workloads, each timed with the collectors installed and without, alternating, the first
turning each round: **calls** (bench_workloads' call-heavy loop: few collections, no logging),
**churn** (small objects in cycles: a gen-0 collection every ~700 allocations), **logging**
(100,000 records through a logger at INFO to a handler that drops them). Medians of the
rounds; the ratio is on over off.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diagkit.target.channel import Channel
from diagkit.target.gc_watch import GcWatcher
from diagkit.target.log_records import LogRecorder


def calls() -> None:
    def a(v: int) -> int:
        return v + 1

    def b(v: int) -> int:
        return a(v) * 2

    s = 0
    for i in range(600_000):
        s += b(i)


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


def churn() -> None:
    for _ in range(300_000):
        x, y = Node(), Node()
        x.peer, y.peer = y, x


LOG = logging.getLogger("bench.inproc")


def log_records() -> None:
    for i in range(100_000):
        LOG.info("step %d", i)


@contextlib.contextmanager
def collectors(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    channel = Channel(tempfile.mkdtemp(prefix="bench-inproc-"))
    gcw, logs = GcWatcher(channel), LogRecorder(channel)
    gcw.install()
    logs.install()  # logging is imported here: the wrapper goes in at once
    try:
        yield
    finally:
        gcw.finish()
        logs.finish()


def timed(fn: Callable[[], None], on: bool) -> float:
    gc.collect()
    with collectors(on):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    LOG.setLevel(logging.INFO)
    LOG.addHandler(logging.NullHandler())
    LOG.propagate = False
    works = {"calls": calls, "churn": churn, "logging": log_records}
    print("| workload | off s | on s | on × off |")
    print("|---|---|---|---|")
    for name, fn in works.items():
        got: dict[bool, list[float]] = {False: [], True: []}
        for r in range(args.rounds):
            for on in (r % 2 == 0, r % 2 == 1):
                got[on].append(timed(fn, on))
        off, on_ = statistics.median(got[False]), statistics.median(got[True])
        print(f"| {name} | {off:.3f} | {on_:.3f} | {on_ / off:.3f} |")
    print(f"\n({args.rounds} rounds, medians; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
