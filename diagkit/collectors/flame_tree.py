"""py-spy's speedscope samples merged into one call tree, small enough to embed in a page.

Frames are merged per function (name and file), not per line: a flame graph that
split a function at every line it was sampled on would be unreadable. Nodes too
narrow to ever be drawn are pruned, so a ten-minute run embeds no more than a
short one; their time stays in the parent's total.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from diagkit.collectors.sample_stacks import (
    is_library_file,
    program_frames,
    weighted_samples,
)
from diagkit.model.flame import FlameFunction, FlameTree

MAX_NODES = 15_000
# Below this share of all samples a node is under a third of a pixel on a wide screen.
MIN_SHARE = 1 / 4000


MICROSECONDS = 1e6


def flame_tree(speedscope: dict[str, Any], max_nodes: int = MAX_NODES) -> FlameTree:
    """The merged tree in preorder (node 0 is the root, "all samples")."""
    frames: list[dict[str, Any]] = speedscope.get("shared", {}).get("frames", [])
    funcs: list[list[Any]] = [["all samples", "", 0, "root"]]
    func_ids: dict[tuple[str, str, str], int] = {}

    def func_id(name: str, file: str, line: int, kind: str) -> int:
        fid = func_ids.get((name, file, kind))
        if fid is None:
            fid = func_ids[(name, file, kind)] = len(funcs)
            funcs.append([name, file, line, kind])
        elif line and (not funcs[fid][2] or line < funcs[fid][2]):
            funcs[fid][2] = line  # the lowest line seen stands in for the definition
        return fid

    fid_of = []
    for fr in frames:
        name, file = str(fr.get("name", "?")), str(fr.get("file") or "")
        if file.endswith(".py"):
            kind = "lib" if is_library_file(file) else "own"
        else:  # "<frozen ...>" modules are Python's own; anything else is compiled code
            kind = "lib" if file.startswith("<") else "native"
        fid_of.append(func_id(name, file, int(fr.get("line") or 0), kind))
    # The tree as parallel lists: a node's function, its samples, its children by function.
    node_func, node_value = [0], [0]
    node_kids: list[dict[int, int] | None] = [None]

    def child(node: int, fid: int) -> int:
        kids = node_kids[node]
        if kids is None:
            kids = node_kids[node] = {}
        c = kids.get(fid)
        if c is None:
            c = kids[fid] = len(node_func)
            node_func.append(fid)
            node_value.append(0)
            node_kids.append(None)
        return c

    profiles = [p for p in speedscope.get("profiles", []) if p.get("samples")]
    weighted = [weighted_samples(p, 1) for p in profiles]
    # Integer values in intervals of the fastest rate: a sample taken after the sampling
    # slowed down stands for several of them. A time-weighted file says how many itself.
    timed = bool(profiles) and all("slots" in p for p in profiles)
    unit = min((w for ws in weighted for _, w in ws if w > 0), default=1.0)
    for prof, samples in zip(profiles, weighted, strict=True):
        top = 0
        if len(profiles) > 1:
            top = child(0, func_id(str(prof.get("name", "thread")), "", 0, "thread"))
        counts: Counter[tuple[int, ...]] = Counter()
        if timed:
            # Microseconds, not slots: a short run has a few dozen slots, and counting in them
            # strays from the tables' time-weighted shares by a point or two.
            seconds: dict[tuple[int, ...], float] = defaultdict(float)
            for s, w in samples:
                seconds[tuple(s)] += w
            for s_key, sec in seconds.items():
                if n := round(sec * MICROSECONDS):
                    counts[s_key] = n
        else:
            for s, w in samples:
                counts[tuple(s)] += max(1, round(w / unit))
        for stack, n in counts.items():
            kept = len(program_frames([frames[i] for i in stack]))
            if not kept:
                continue
            node_value[0] += n
            if top:
                node_value[top] += n
            node = top
            for i in stack[len(stack) - kept :]:
                fid = fid_of[i]
                kids = node_kids[node]
                c = kids.get(fid) if kids is not None else None
                if c is None:
                    c = child(node, fid)
                node_value[c] += n
                node = c
    tree = _flatten(node_func, node_value, node_kids, funcs, max_nodes)
    tree.per_second = MICROSECONDS if timed else 0.0
    return tree


def _flatten(
    node_func: list[int],
    node_value: list[int],
    node_kids: list[dict[int, int] | None],
    funcs: list[list[Any]],
    max_nodes: int,
) -> FlameTree:
    total = node_value[0]
    cutoff = max(1, int(total * MIN_SHARE))
    while True:
        out_f: list[int] = []
        out_v: list[int] = []
        out_d: list[int] = []
        stack: list[tuple[int, int]] = [(0, 0)]
        while stack and len(out_f) <= max_nodes:
            node, depth = stack.pop()
            out_f.append(node_func[node])
            out_v.append(node_value[node])
            out_d.append(depth)
            kids = [c for c in (node_kids[node] or {}).values() if node_value[c] >= cutoff]
            # Heaviest child first (left); the stack pops the last pushed first.
            kids.sort(key=lambda c: (node_value[c], -node_func[c]))
            stack.extend((c, depth + 1) for c in kids)
        if not stack:
            break
        cutoff *= 2
    used = sorted(set(out_f))
    remap = {old: new for new, old in enumerate(used)}
    return FlameTree(
        total=total,
        pruned_below=cutoff if cutoff > 1 else 0,
        functions=[FlameFunction(*funcs[i]) for i in used],
        func=[remap[f] for f in out_f],
        value=out_v,
        depth=out_d,
    )
