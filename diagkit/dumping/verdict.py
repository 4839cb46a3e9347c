"""From several dumps of one process: did each thread's stack move, and did it use CPU meanwhile.

Stacks are compared on their Python frames. The innermost Python frame is
compared by function only: a loop that never leaves one function moves
between its lines without making the stack any different. Native frames
(--native) are detail, not identity: a BLAS call changes kernels while the
Python line that made it stays put.
"""

from __future__ import annotations

import linecache
import os

from diagkit.model.dump import ThreadVerdict
from diagkit.model.report import StackFrame, StacksSection, ThreadStack

NO_CPU_SHARE = 0.02  # below 2% of a core between the first and the last dump: not running
_ORDER = {"stuck": 0, "busy": 1, "unchanged": 2, "moving": 3, "started": 4, "ended": 5}


def is_python_frame(frame: StackFrame) -> bool:
    # Python without a file of its own starts with "<": "<frozen ...>", "<string>", the
    # "<dynamic-code>" of a function Dask sent by value; py-spy's native frames never do.
    return frame.file.endswith(".py") or frame.file.startswith("<")


def python_frames(thread: ThreadStack) -> list[StackFrame]:
    return [f for f in thread.frames if is_python_frame(f)]


def _signature(thread: ThreadStack) -> tuple[tuple[str, str, int], ...]:
    frames = python_frames(thread)
    return tuple((f.function, f.file, 0 if i == 0 else f.line) for i, f in enumerate(frames))


def is_library_frame(frame: StackFrame) -> bool:
    f = frame.file
    return f.startswith("<") or any(
        part in f for part in ("/lib/python3", "site-packages", "dist-packages")
    )


def frame_text(frame: StackFrame) -> str:
    return f"{frame.function} ({os.path.basename(frame.file)}:{frame.line})"


def source_line(frame: StackFrame) -> str:
    return linecache.getline(frame.file, frame.line).strip() if frame.line > 0 else ""


def thread_verdicts(
    dumps: list[StacksSection], process_cpu_share: float | None = None
) -> list[ThreadVerdict]:
    """One verdict per thread seen in any of the dumps that worked (needs two or more).

    ``process_cpu_share``, over the same span, stands in for the threads' own CPU
    where that is unknown (stacks from faulthandler carry no OS thread ids): a
    process that used no CPU has no thread that did.
    """
    ok = [d for d in dumps if d.available]
    if len(ok) < 2:
        return []
    order: dict[int, str] = {}
    for d in ok:
        for th in d.threads:
            order.setdefault(th.thread_id, th.name)
    out = [_one(tid, name, ok, process_cpu_share) for tid, name in order.items()]
    return sorted(out, key=lambda v: _ORDER.get(v.verdict, 9))


def _one(
    tid: int, name: str, ok: list[StacksSection], process_share: float | None
) -> ThreadVerdict:
    seen = [(d, th) for d in ok for th in d.threads if th.thread_id == tid]
    (first_d, first), (last_d, last) = seen[0], seen[-1]
    v = ThreadVerdict(thread_id=tid, name=last.name or name, verdict="", text="", dumps=len(seen))
    span = last_d.taken_t - first_d.taken_t
    if first.cpu_s is not None and last.cpu_s is not None and span > 0:
        v.cpu_s = max(0.0, last.cpu_s - first.cpu_s)
        v.cpu_share = v.cpu_s / span
    elif process_share is not None and process_share < NO_CPU_SHARE:
        v.cpu_share = process_share
    if first_d is not ok[0] or last_d is not ok[-1]:
        v.verdict = "started" if first_d is not ok[0] else "ended"
        _name_frame(v, last)
        how = "started after the first dump" if v.verdict == "started" else "ended"
        v.text = f"{how} (in {len(seen)} of {len(ok)} dumps)"
        return v
    if len({_signature(th) for _, th in seen}) == 1:
        _name_frame(v, last)
        where = _where(v)
        if v.cpu_share is None:
            v.verdict, v.text = "unchanged", f"same stack in every dump, in {where} (CPU unknown)"
        elif v.cpu_share < NO_CPU_SHARE:
            v.verdict, v.text = "stuck", f"stuck in {where}"
        else:
            v.verdict, v.text = "busy", f"busy in {where}"
        return v
    v.verdict = "moving"
    common = _deepest_common(seen)
    if common is not None:
        v.function, v.file, v.line = common.function, common.file, common.line
        v.source = source_line(common)
        v.text = f"moving: the stack changed between dumps, always under {frame_text(common)}"
    else:
        v.text = "moving: the stack changed between dumps"
    return v


def _name_frame(v: ThreadVerdict, thread: ThreadStack) -> None:
    frames = python_frames(thread)
    if frames:
        top = frames[0]
        v.function, v.file, v.line = top.function, top.file, top.line
        v.source = source_line(top)
        if is_library_frame(top):
            own = next((f for f in frames if not is_library_frame(f)), None)
            v.caller = frame_text(own) if own is not None else ""
    natives = [f for f in thread.frames if not is_python_frame(f)]
    if natives and thread.frames and not is_python_frame(thread.frames[0]):
        v.native = natives[0].function


def _where(v: ThreadVerdict) -> str:
    if not v.function:
        return "native code (no Python frame)"
    where = f"{v.function} ({os.path.basename(v.file)}:{v.line})"
    if v.native:
        where += f", in native {v.native}"
    return f"{where}, called from {v.caller}" if v.caller else where


def _deepest_common(seen: list[tuple[StacksSection, ThreadStack]]) -> StackFrame | None:
    """The innermost frame (same function, file and line) that every dump has at the same depth."""
    stacks = [list(reversed(python_frames(th))) for _, th in seen]  # root first
    common: StackFrame | None = None
    for depth in range(min(len(s) for s in stacks)):
        keys = {(s[depth].function, s[depth].file, s[depth].line) for s in stacks}
        if len(keys) != 1:
            break
        common = stacks[0][depth]
    return common


def process_summary(verdicts: list[ThreadVerdict], n_dumps: int, span_s: float) -> str:
    """The verdict for the whole process in one line, the threads that matter named first."""
    if not verdicts:
        return ""
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    over = f"{n_dumps} dumps over {span_s:.1f} s"
    if set(counts) == {"stuck"}:
        return f"stuck: no thread moved or used CPU in {over}"
    parts = [f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9))]
    lead = "busy" if "busy" in counts else "stuck" if "stuck" in counts else "moving"
    if "moving" in counts and lead != "moving":
        lead = f"{lead} and moving"
    return f"{lead}: {', '.join(parts)} of {len(verdicts)} threads in {over}"
