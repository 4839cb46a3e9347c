"""Join py-spy speedscope files taken one after another from the same process into one.

Each sample keeps its own weight (the interval it stands for, in seconds), so a
file sampled at 200 Hz followed by one at 50 Hz reads as one timeline in
speedscope and in diag's own tables. A thread's samples from both files land in
one profile (py-spy names a thread by its id and name, the same in both).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def merge(parts: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """``parts``: (rate in Hz, parsed speedscope) in time order."""
    frames: list[dict[str, Any]] = []
    index: dict[tuple[Any, ...], int] = {}
    profiles: dict[str, dict[str, Any]] = {}
    for rate, doc in parts:
        remap = []
        for fr in doc.get("shared", {}).get("frames", []):
            key = tuple(sorted((k, str(v)) for k, v in fr.items()))
            if key not in index:
                index[key] = len(frames)
                frames.append(fr)
            remap.append(index[key])
        for prof in doc.get("profiles", []):
            samples = prof.get("samples", [])
            weights = prof.get("weights") or [1.0 / rate] * len(samples)
            out = profiles.setdefault(
                prof.get("name", "?"),
                {**prof, "samples": [], "weights": [], "startValue": 0.0, "endValue": 0.0},
            )
            out["samples"] += [[remap[i] for i in stack] for stack in samples]
            out["weights"] += weights
            out["endValue"] += sum(weights)
    first = parts[0][1] if parts else {}
    return {**first, "shared": {"frames": frames}, "profiles": list(profiles.values())}


def write_merged(output: Path, files: list[tuple[int, Path]]) -> None:
    parts = []
    for rate, path in files:
        with open(path) as fh:
            parts.append((rate, json.load(fh)))
    tmp = output.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        json.dump(merge(parts), fh, separators=(",", ":"))
    os.replace(tmp, output)
