"""The sampled stacks merged into one call tree, as the report page draws it (a flame graph).

Merged when the run is collected, from py-spy's samples, so a saved report.json draws
the same graph without the speedscope file beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FlameFunction:
    """A function as the tree names it; ``line`` is the lowest line sampled in it."""

    name: str
    file: str
    line: int
    kind: str  # root | thread | own | lib | native


@dataclass
class FlameTree:
    """The tree in preorder: node i is ``functions[func[i]]`` at ``depth[i]``, with ``value[i]``
    samples (in intervals of the fastest rate); node 0 is the root, all samples. Nodes under
    ``pruned_below`` samples are left out, their time kept in their parent's.

    ``per_second``: how many value units make a second. A time-weighted run counts in
    microseconds (1e6), so the graph's shares are the tables' shares; 0: in intervals of the
    time section's rate, as a blocking run counts."""

    total: int = 0
    pruned_below: int = 0
    per_second: float = 0.0
    functions: list[FlameFunction] = field(default_factory=list)
    func: list[int] = field(default_factory=list)
    value: list[int] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
