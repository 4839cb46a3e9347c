"""The flame graph's siblings, left to right: heaviest first, ties in the order the profile
first names their functions.

The page draws each node's children in the tree's order (flame.js lays them out from
the left as they come), so this order is what a reader sees.
"""

from __future__ import annotations

from diagkit.collectors.flame_tree import flame_tree

APP = "/w/app.py"
# Frame order sets the tie order: b before a, x before w, whatever their names.
NAMES = ["main", "b", "a", "c", "d", "e", "x", "w"]
FRAMES = [{"name": n, "file": APP, "line": 10 * (i + 1)} for i, n in enumerate(NAMES)]
ID = {n: i for i, n in enumerate(NAMES)}


def _stacks(*calls: tuple[str, int]) -> list[list[int]]:
    """``("main c x", 2)``: that stack, root first, sampled twice."""
    return [[ID[n] for n in path.split()] for path, times in calls for _ in range(times)]


def test_siblings_are_heaviest_first_and_ties_keep_the_profiles_order():
    samples = _stacks(
        ("main b", 3),
        ("main a", 1),
        ("main a e", 2),
        ("main c", 1),
        ("main c x", 2),
        ("main c w", 2),
        ("main d", 1),
    )
    tree = flame_tree({"shared": {"frames": FRAMES}, "profiles": [{"samples": samples}]})
    drawn = [
        (tree.functions[f].name, v, d)
        for f, v, d in zip(tree.func, tree.value, tree.depth, strict=True)
    ]
    assert drawn == [
        ("all samples", 12, 0),
        ("main", 12, 1),
        ("c", 5, 2),  # the heaviest, though named after b and a
        ("x", 2, 3),  # tied with w: x is named first
        ("w", 2, 3),
        ("b", 3, 2),  # tied with a: b is named first
        ("a", 3, 2),
        ("e", 2, 3),
        ("d", 1, 2),
    ]
