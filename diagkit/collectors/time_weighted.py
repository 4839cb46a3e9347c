"""py-spy's chrometrace events as one time-weighted timeline, written as a speedscope file.

py-spy ``--format chrometrace`` writes a B (begin) or E (end) event for each frame that
changes between a thread's consecutive samples, timed in µs since it started. A stack
therefore lasts from its sample to the next sample that differs: each successful sample
weighs the time until the next one, so a read that failed (``--nonblocking`` drops the whole
process's sample when a stack changed under it) hands its time to its neighbours, which sit
in the same phase of the program, instead of vanishing from the counts.

What py-spy's format needs undone:

- py-spy diffs each new stack against the last one of the same thread id (the pthread id),
  whatever process it came from: forked workers share their parent's, so two processes'
  stacks alternate on one id. Stacks are decoded as py-spy wrote them (per thread id) and
  timed per thread of a process: a thread's stack lasts until that thread's next sample.
- With ``--threads`` every stack has a root frame ``thread (NATIVE_TID): NAME``: the thread's
  name and the native id ``/proc/PID/task`` lists, which says when a thread ended. A
  pthread id reused by a new thread of the same process ends the old thread's stack.
- At the end of a file every open frame gets an E at the time of writing: a thread that
  ended keeps its last stack until then, so its last stack is cut at the thread's end
  (``ThreadEnds``) where that is known.

The speedscope file has py-spy's profile names (``Thread N "name"``, ``Process P Thread N
"name"`` with ``--subprocesses``), consecutive samples with the same stack merged into one
weighted sample, and per sample a ``slots`` count (extra key, ignored by speedscope): the
sampling intervals it covers, so the report's sample counts stay counts of samples (a short
sample between two ticks covers none; its neighbours' counts hold the total).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diagkit.collectors.torn_reads import Frame, mend_torn_reads

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_THREAD_FRAME = re.compile(r"thread \((\d+|0x[0-9A-Fa-f]+)\)(?:: (.*))?\Z", re.S)

Owner = tuple[int, str]  # pid, the thread as py-spy names it (native id, else 0x pthread id)
# ThreadEnds.end_after: where native thread ``tid``, alive at ``t``, ended (None: not known).
EndOf = Callable[[int, float], float | None]


def load_events(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The events of a chrometrace file, and whether it was whole. A file cut short (py-spy
    killed while writing it) keeps its whole events; an empty or unreadable one has none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return [], False
    if not text:
        return [], False
    try:
        data = json.loads(text)
        return (data if isinstance(data, list) else []), isinstance(data, list)
    except ValueError:
        pass
    cut = text.rfind('},{"args"')  # py-spy writes one compact list, every event opening so
    if not text.startswith("[") or cut < 0:
        return [], False
    try:
        return json.loads(text[: cut + 1] + "]"), False
    except ValueError:
        return [], False


@dataclass
class _Thread:
    name: str = ""
    stacks: list[tuple[int, ...]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    joinable: bool = False  # whether the next span may merge into the last sample
    span: tuple[tuple[int, ...], float] | None = None  # the open stack and when it began


@dataclass
class ChunkTimes:
    """One py-spy run's coverage in diag's clock (``time.monotonic()`` seconds)."""

    first_s: float
    close_s: float
    rate: int  # the rate its py-spy sampled at


class Timeline:
    """Chunks of chrometrace events, in time order, folded into weighted samples."""

    def __init__(self, rate: int, subprocesses: bool = False) -> None:
        self.rate = rate
        self._chunk_rate = rate  # the chunk being folded in: its ticks count at its own rate
        self.subprocesses = subprocesses
        self.chunks: list[ChunkTimes] = []
        self.pids: set[int] = set()
        self._frames: list[Frame] = []
        self._frame_ids: dict[Frame, int] = {}
        self._threads: dict[Owner, _Thread] = {}
        self._stacks: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.torn = 0  # samples that came back cut short (``torn_reads``), once written

    def add_chunk(
        self,
        events: Iterable[dict[str, Any]],
        origin_s: float,
        end_of: EndOf | None = None,
        rate: int = 0,
    ) -> None:
        """Fold one file's events in; ``origin_s``: when its py-spy's clock read 0; ``rate``:
        the rate it sampled at (the timeline's own by default)."""
        self._chunk_rate = rate or self.rate
        held: dict[int, list[Frame]] = {}  # py-spy's own state: the last stack per thread id
        holder: dict[int, Owner | None] = {}  # whose stack that is
        first = close = None
        for tid, pid, ts, changes in _increments(events):
            frames = held.setdefault(tid, [])
            for ph, frame in changes:
                if ph == "B":
                    frames.append(frame)
                elif frames:
                    frames.pop()
            t = origin_s + ts / 1e6
            first = t if first is None else first
            close = t
            before = holder.get(tid)
            owner = self._owner(pid, frames, tid)
            if before is not None and before != owner and before[0] == pid:
                self._end(before, t, end_of)  # a new thread on the ended one's pthread id
            holder[tid] = owner
            if owner is not None:
                self._end(owner, t, end_of)
                self._begin(owner, frames, t)
        if first is None or close is None:
            return
        for owner in self._threads:
            self._end(owner, close, end_of)  # what py-spy closed when it wrote the file
        self.chunks.append(ChunkTimes(first, close, self._chunk_rate))

    def _owner(self, pid: int, frames: list[Frame], tid: int) -> Owner | None:
        if not frames:
            return None
        for name, file, _ in frames:  # py-spy's frames (no file) come first, root first
            if file:
                break
            m = _THREAD_FRAME.match(name)
            if m:
                owner = (pid, m.group(1))
                th = self._threads.setdefault(owner, _Thread())
                th.name = th.name or (m.group(2) or "")
                return owner
        owner = (pid, f"0x{tid:X}")  # py-spy's own name for a thread without --threads
        self._threads.setdefault(owner, _Thread())
        return owner

    def _begin(self, owner: Owner, frames: list[Frame], t: float) -> None:
        stack = tuple(self._frame_id(f) for f in frames if f[1] or not f[0].startswith("thread ("))
        # One tuple per distinct stack: a long run repeats a few thousand stacks ~100,000 times.
        stack = self._stacks.setdefault(stack, stack)
        if any(self._frames[i][1] for i in stack):  # a Python frame, not only py-spy's own
            self._threads[owner].span = (stack, t)
            self.pids.add(owner[0])
        else:
            self._threads[owner].joinable = False

    def _end(self, owner: Owner, t: float, end_of: EndOf | None) -> None:
        th = self._threads[owner]
        if th.span is None:
            return
        stack, start = th.span
        th.span = None
        if end_of is not None and owner[1].isdigit():
            gone = end_of(int(owner[1]), start)
            if gone is not None:
                t = min(t, max(start, gone))
        seconds = t - start
        if seconds <= 0:
            return
        # The sampling intervals (ticks of one clock at the rate) the span covers: a thread's
        # counts add up to its seconds times the rate, however py-spy's samples bunched.
        slots = self._tick(t) - self._tick(start)
        if th.joinable and th.stacks and th.stacks[-1] == stack:
            th.weights[-1] += seconds
            th.slots[-1] += slots
        else:
            th.stacks.append(stack)
            th.weights.append(seconds)
            th.slots.append(slots)
        th.joinable = True

    def _tick(self, t: float) -> int:
        return math.floor(t * self._chunk_rate + 1e-6)

    def _frame_id(self, frame: Frame) -> int:
        fid = self._frame_ids.get(frame)
        if fid is None:
            fid = self._frame_ids[frame] = len(self._frames)
            self._frames.append(frame)
        return fid

    @property
    def seams_s(self) -> float:
        """The time between one chunk's end and the next one's first sample: not sampled."""
        pairs = zip(self.chunks, self.chunks[1:], strict=False)
        return sum(max(0.0, b.first_s - a.close_s) for a, b in pairs)

    @property
    def covered_s(self) -> float:
        return sum(c.close_s - c.first_s for c in self.chunks)

    @property
    def reads_due(self) -> int:
        """The samples of one process py-spy was due to take in the time it sampled."""
        return round(sum((c.close_s - c.first_s) * c.rate for c in self.chunks))

    def speedscope(self, exporter: str) -> dict[str, Any]:
        """The timeline as a speedscope file; samples that came back cut short are first
        given to the ones before them (``torn_reads``), so this is called once."""
        profiles = []
        for (pid, label), th in self._threads.items():
            self.torn += mend_torn_reads(th.stacks, th.weights, th.slots, self._frames)
            if not th.stacks:
                continue
            name = f'Thread {label} "{th.name}"'
            profiles.append(
                {
                    "type": "sampled",
                    "name": f"Process {pid} {name}" if self.subprocesses else name,
                    "unit": "seconds",
                    "startValue": 0.0,
                    "endValue": sum(th.weights),
                    "samples": th.stacks,  # written as arrays; shared, not copied
                    "weights": th.weights,
                    "slots": th.slots,
                }
            )
        profiles.sort(key=lambda p: str(p["name"]))
        return {
            "$schema": SPEEDSCOPE_SCHEMA,
            "profiles": profiles,
            "shared": {
                "frames": [
                    {"name": n, "file": f, "line": ln, "col": None} for n, f, ln in self._frames
                ]
            },
            "activeProfileIndex": None,
            "exporter": exporter,
            "name": "py-spy profile",
        }


def _increments(
    events: Iterable[dict[str, Any]],
) -> Iterable[tuple[int, int, int, list[tuple[str, Frame]]]]:
    """(thread id, pid, µs, [(B or E, frame)]) for each stack py-spy recorded that changed:
    its E events (innermost first), then its B events (outermost first), all at one time."""
    key: tuple[int, int, int] | None = None
    changes: list[tuple[str, Frame]] = []
    for ev in events:
        try:
            ph, tid, pid, ts = ev["ph"], int(ev["tid"]), int(ev["pid"]), int(ev["ts"])
            args = ev.get("args") or {}
            frame = (str(ev["name"]), str(args.get("filename") or ""), int(args.get("line") or 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if ph not in ("B", "E"):
            continue
        # A new stack: another thread, process or time, or an E after this one's B events.
        if (tid, pid, ts) != key or (ph == "E" and changes and changes[-1][0] == "B"):
            if key is not None and changes:
                yield (*key, changes)
            key, changes = (tid, pid, ts), []
        changes.append((ph, frame))
    if key is not None and changes:
        yield (*key, changes)
