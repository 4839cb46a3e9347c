"""What a report of a run stopped by ``--timeout`` says first: where each thread was at the
deadline and whether it moved just before. A hung program is diagnosed by that, not by its
hottest function: a thread that waits on a lock is rarely sampled at all."""

from __future__ import annotations

from diagkit.model.report import Report, StackFrame, ThreadStack
from diagkit.render.units import short_path

MAX_THREADS = 8  # a pool of hundred workers is in the Stacks section; the lead stays short


def lead_lines(report: Report) -> list[str]:
    """One line per thread of the stacks taken at the timeout; none for other endings."""
    s = report.stacks
    if report.outcome.kind != "timeout" or s is None or not s.available or not s.threads:
        return []
    lines = [_line(th, s.compared_s) for th in s.threads[:MAX_THREADS]]
    if len(s.threads) > MAX_THREADS:
        lines.append(f"and {len(s.threads) - MAX_THREADS} more threads (see Stacks)")
    return lines


def _line(th: ThreadStack, span: float) -> str:
    where, for_span = _where(th), f"{span:.1f} s"
    if th.verdict == "stuck":
        return f"{th.name} stuck in {where} (same stack for {for_span}, no CPU)"
    if th.verdict == "busy":
        used = f"{th.cpu_share:.0%} of a core" if th.cpu_share is not None else "running"
        return f"{th.name} busy in {where} (same stack for {for_span}, {used})"
    if th.verdict == "moving":
        return f"{th.name} moving, at {where} (its stack changed within {for_span})"
    if th.verdict == "unchanged":
        return f"{th.name} in {where} (same stack for {for_span}, CPU unknown)"
    if th.verdict == "started":
        return f"{th.name} at {where} (started within the last {for_span})"
    return f"{th.name} at {where}"


def _where(th: ThreadStack) -> str:
    frame: StackFrame | None = th.own_frame
    if frame is not None:
        return _frame(frame)
    if not th.frames:
        return "no Python frame"
    # No frame of the program's own: a library's thread (a pool worker, a watchdog).
    return f"{_frame(th.frames[0])} (library code)"


def _frame(f: StackFrame) -> str:
    return f"{f.function} {short_path(f.file)}:{f.line}"
