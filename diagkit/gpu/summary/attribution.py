"""Which host ranges were open when each piece of GPU work was launched.

A kernel or copy belongs to the ranges of the thread that launched it: its
correlation id leads to the API call, and every range of that thread whose
[start, end] holds the call's start is open at the launch. Work that runs on
the device long after the call still counts where it was issued.
"""

from __future__ import annotations

from collections import defaultdict

from diagkit.gpu.summary.ops import ApiCall, HostRange, Op

_START, _QUERY, _END = 0, 1, 2


class Attribution:
    """Per op: None where the launch is unknown, else the open ranges (indices) and the innermost."""

    def __init__(self, found: list[tuple[tuple[int, ...], int] | None]) -> None:
        self._found = found
        self.any_attributed = any(f is not None for f in found)

    def enclosing(self, op: int) -> tuple[int, ...] | None:
        f = self._found[op]
        return None if f is None else f[0]

    def innermost(self, op: int) -> int | None:
        """Index of the innermost open range, -1 for none open, None when the launch is unknown."""
        f = self._found[op]
        return None if f is None else f[1]


def attribute(ops: list[Op], api: list[ApiCall], ranges: list[HostRange]) -> Attribution:
    calls: dict[tuple[int, int], ApiCall] = {}
    for c in api:
        if c.correlation is None:
            continue
        key = (c.process, c.correlation)
        prev = calls.get(key)
        # A runtime call and the driver calls it makes can share an id: the outer one launched.
        if prev is None or c.start < prev.start:
            calls[key] = c
    queries: dict[int, list[tuple[int, int]]] = defaultdict(list)  # thread -> [(t, op)]
    for i, o in enumerate(ops):
        if o.host_timed and o.thread is not None:
            queries[o.thread].append((o.start, i))
        elif o.correlation is not None:
            launch = calls.get((o.process, o.correlation))
            if launch is not None:
                queries[launch.thread].append((launch.start, i))
    found: list[tuple[tuple[int, ...], int] | None] = [None] * len(ops)
    by_thread: dict[int, list[int]] = defaultdict(list)
    for j, r in enumerate(ranges):
        by_thread[r.thread].append(j)
    for thread, qs in queries.items():
        _sweep(ranges, by_thread.get(thread, []), qs, found)
    return Attribution(found)


def _sweep(
    ranges: list[HostRange],
    mine: list[int],
    queries: list[tuple[int, int]],
    found: list[tuple[tuple[int, ...], int] | None],
) -> None:
    # Starts sort before queries before ends at the same instant: both ends are inclusive.
    # Among equal starts the longer range opens first, so it reads as the outer one.
    events: list[tuple[int, int, int, int]] = []
    for j in mine:
        r = ranges[j]
        events.append((r.start, _START, -r.end, j))
        events.append((r.end, _END, 0, j))
    for t, i in queries:
        events.append((t, _QUERY, 0, i))
    events.sort()
    open_: list[int] = []
    for _t, kind, _k, idx in events:
        if kind == _START:
            open_.append(idx)
        elif kind == _END:
            open_.remove(idx)
        else:
            found[idx] = (tuple(open_), open_[-1] if open_ else -1)
