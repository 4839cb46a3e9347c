"""Nonblocking reads that came back cut short, given back to the stacks around them.

A ``--nonblocking`` read walks a thread's frames while the thread runs on. When the walk
races a change it usually fails and py-spy drops the sample; sometimes it stops early and
py-spy keeps what it read: the innermost frame or two, with no caller. A thread's stack
cannot lose its outer frames and get them back a few milliseconds later, so such a sample
is a failed read that went unnoticed. Counted as it is, its time leaves the phase it was
part of: on Numba's first compile one sample in five came back so on Python 3.13 (a
single frame such as ``warnings._add_filter`` or ``_lib_fn_wrapper.__call__``), and the
compile lost a fifth of its time to rows outside the program.

Here such a sample's time goes to the sample before it, as a dropped read's does
(``time_weighted``): a run of at most ``MAX_RUN`` samples whose outermost frame differs
from the one of the samples on both sides of it, which share theirs, and each shallower
than both. A thread's entry changes for good only at its start and its end (the
interpreter's start-up, ``atexit``), where no sample after it returns to the old root.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_RUN = 4

Stack = tuple[int, ...]
Frame = tuple[str, str, int]  # name, file, line
Root = tuple[str, str] | None  # the outermost program frame's name and file


def mend_torn_reads(
    stacks: list[Stack], weights: list[float], slots: list[int], frames: Sequence[Frame]
) -> int:
    """Fold cut-short samples into the ones before them, in place; the count folded.
    ``frames``: what the stacks' frame ids stand for (py-spy's own frames have no file)."""
    # Per distinct stack, once: a long run's ~100,000 samples are a few thousand stacks.
    shape: dict[Stack, tuple[Root, int]] = {}
    for s in stacks:
        if s not in shape:
            shape[s] = (_root(s, frames), sum(1 for f in s if frames[f][1]))
    roots = [shape[s][0] for s in stacks]
    depths = [shape[s][1] for s in stacks]
    keep: list[int] = []
    torn = 0
    i, n = 0, len(stacks)
    while i < n:
        j = _end_of_tear(i, keep[-1] if keep else -1, roots, depths)
        if j < 0:
            keep.append(i)
            i += 1
            continue
        last = keep[-1]
        for k in range(i, j):
            weights[last] += weights[k]
            slots[last] += slots[k]
        torn += j - i
        if stacks[j] == stacks[last]:  # the stack torn out of the middle of one span
            weights[last] += weights[j]
            slots[last] += slots[j]
            j += 1
        i = j
    if torn:
        stacks[:] = [stacks[k] for k in keep]
        weights[:] = [weights[k] for k in keep]
        slots[:] = [slots[k] for k in keep]
    return torn


def _end_of_tear(i: int, before: int, roots: Sequence[Root], depths: Sequence[int]) -> int:
    """Where the torn run starting at ``i`` ends (the first sample after it), or -1 where
    ``i`` is no torn read; ``before``: the sample kept last (-1: none yet)."""
    if before < 0 or roots[before] is None or roots[i] == roots[before]:
        return -1
    for j in range(i + 1, min(i + MAX_RUN, len(roots) - 1) + 1):
        if roots[j] == roots[before]:
            shallow = all(depths[k] < min(depths[before], depths[j]) for k in range(i, j))
            return j if shallow else -1
    return -1


def _root(stack: Stack, frames: Sequence[Frame]) -> Root:
    # By name and file: a module's frame stays the root while its line moves on.
    return next(((frames[f][0], frames[f][1]) for f in stack if frames[f][1]), None)
