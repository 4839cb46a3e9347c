"""What a py-spy sample holds of the program: its part of each stack, which files are not
its own code, and the seconds each sample stands for. Shared by every reading of the
samples: the time tables, the flame tree and the --deep pass's choice of targets."""

from __future__ import annotations

import functools
import os
import re
import sysconfig
from collections.abc import Callable
from typing import Any

from diagkit.collectors.idle_frames import is_waiting
from diagkit.collectors.own_frames import is_diagkit, is_hook, program_end, program_start

_LIB_DIRS = tuple(
    os.path.realpath(p) + os.sep
    for p in {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
)


@functools.cache
def is_library_file(path: str) -> bool:
    """Standard library, site-packages, diagkit itself, or not a Python file: not the user's code.

    diagkit counts as a library even when installed editable: its import hooks wrap the
    program's imports, and those frames must not be taken for the program's hot lines.
    """
    if not path.endswith(".py") or is_diagkit(path):
        return True
    real = os.path.realpath(path)
    return real.startswith(_LIB_DIRS) or "site-packages" in real or "dist-packages" in real


def program_frames(frs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The program's part of a stack (root first, a suffix of it), or [] for diag's own work.

    The same cut as every stacks section (see ``own_frames``): at the bootstrap's
    ``run_program``, and below py-spy's per-process frames; diag's signal handler on
    top of the program is cut off.
    """
    named = [(fr.get("name") or "", fr.get("file") or "") for fr in frs]
    start = program_start(named)
    if start is None:
        return []
    end = program_end(named, start)
    return [
        fr
        for fr, (_, file) in zip(frs[start:end], named[start:end], strict=True)
        if not is_hook(file)
    ]


def weighted_samples(profile: dict[str, Any], rate: int) -> list[tuple[list[int], float]]:
    """A thread's stacks with the seconds each stands for (py-spy writes 1/rate; a run
    whose sampling slowed down carries each phase's own interval)."""
    samples = profile.get("samples", [])
    weights = profile.get("weights") or []
    if len(weights) != len(samples):
        weights = [1.0 / rate] * len(samples)
    return list(zip(samples, weights, strict=True))


def sample_slots(profile: dict[str, Any]) -> list[int]:
    """How many samples each one counts for: a time-weighted file (``time_weighted``) merges
    a stack's consecutive samples into one and says how many sampling intervals it covers;
    py-spy's own files have one sample each."""
    samples = profile.get("samples", [])
    slots = profile.get("slots") or []
    return slots if len(slots) == len(samples) else [1] * len(samples)


def by_distinct_stack(prof: dict[str, Any], rate: int) -> dict[tuple[int, ...], list[Any]]:
    """Each distinct stack of a profile once, with its samples' count and seconds summed
    (``[count, seconds]``): for readings that are sums over the samples, as a long run
    repeats a few hundred or thousand stacks ~100,000 times."""
    out: dict[tuple[int, ...], list[Any]] = {}
    for (stack, w), c in zip(weighted_samples(prof, rate), sample_slots(prof), strict=True):
        key = tuple(stack)
        row = out.get(key)
        if row is None:
            out[key] = [c, w]
        else:
            row[0] += c
            row[1] += w
    return out


def work_samples(
    speedscope: dict[str, Any], blocked: frozenset[int] = frozenset()
) -> dict[str, Any]:
    """The samples without those of threads that were waiting (``idle_frames``, and every
    sample of the ``blocked`` threads' native ids): what the time tables count without
    ``--idle``, for the flame graph and --deep's choice too."""
    frames = speedscope.get("shared", {}).get("frames", [])
    waiting: dict[tuple[int, ...], bool] = {}

    def waits(stack: list[int]) -> bool:
        key = tuple(stack)
        if key not in waiting:
            frs = program_frames([frames[i] for i in stack])
            waiting[key] = bool(frs) and is_waiting(frs, is_library_file)
        return waiting[key]

    profiles = []
    for prof in speedscope.get("profiles", []):
        if native_tid(prof.get("name", "")) in blocked:
            profiles.append({**prof, "samples": [], "weights": [], "slots": []})
            continue
        rows = zip(
            prof.get("samples", []), weighted_samples(prof, 1), sample_slots(prof), strict=True
        )
        kept = [(s, w, c) for s, (_, w), c in rows if not waits(s)]
        out = {**prof, "samples": [s for s, _, _ in kept]}
        if prof.get("weights"):
            out["weights"] = [w for _, w, _ in kept]
        if prof.get("slots"):
            out["slots"] = [c for _, _, c in kept]
        profiles.append(out)
    return {**speedscope, "profiles": profiles}


Rewrite = Callable[[list[int], Callable[[str], int]], "list[int] | None"]


def rewrite_stacks(doc: dict[str, Any], file: str, rewrite: Rewrite) -> dict[str, Any]:
    """``doc`` with each stack that ``rewrite(stack, frame)`` changes (it returns the new
    stack, or None) replaced, once per distinct stack; ``frame(name)`` is the index of a frame
    of diag's own named ``name`` in ``file``, added to the frame table once. ``doc`` itself,
    unchanged, where no stack was."""
    frames: list[dict[str, Any]] = doc.get("shared", {}).get("frames", [])
    if not frames:
        return doc
    out_frames = list(frames)
    made: dict[str, int] = {}

    def frame(name: str) -> int:
        if name not in made:
            made[name] = len(out_frames)
            out_frames.append({"name": name, "file": file, "line": 0})
        return made[name]

    memo: dict[tuple[int, ...], list[int] | None] = {}
    profiles, changed = [], False
    for prof in doc.get("profiles", []):
        samples = []
        for stack in prof.get("samples", []):
            key = tuple(stack)
            if key not in memo:
                memo[key] = rewrite(stack, frame)
            new = memo[key]
            changed = changed or new is not None
            samples.append(stack if new is None else new)
        profiles.append({**prof, "samples": samples})
    if not changed:
        return doc
    return {**doc, "shared": {**doc["shared"], "frames": out_frames}, "profiles": profiles}


_TID = re.compile(r"Thread (\d+)\b")


def native_tid(profile_name: str) -> int:
    """py-spy names a thread ``Thread NATIVE_TID "NAME"`` (with --threads; else a 0x pthread id)."""
    m = _TID.search(profile_name)
    return int(m.group(1)) if m else 0
