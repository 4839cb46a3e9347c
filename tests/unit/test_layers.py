"""diagkit's layers, read from its source (parsed, never imported or run): every import points
down the table below, no modules import each other round a cycle, and the report model, the
code that runs inside the target and the renderers import only what they may.

What counts as an import: every ``import diagkit...`` and ``from diagkit... import`` in a
module, at its top, inside functions (the lazy imports that keep start-up fast) and under
``if TYPE_CHECKING:`` too. A type-only import does not run, but it is still a dependency a
reader and the type checker follow, and a type-only cycle is a cycle in the design: so those
point down as well. ``from diagkit.run import stop_signals`` is an import of the module
``diagkit.run.stop_signals``. The parent packages Python imports on the way (``diagkit.gpu``
for ``diagkit.gpu.plan``) are not counted: a package's ``__init__`` is part of its own folder.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The layers, top (L0) to bottom (L6): the one place they are written down. A folder ends
# in "/", anything else is one file. A module may import from its own layer and the layers
# below it, never from one above; sideways within a layer is allowed (the GPU parsers and
# the in-process GPU collector share the raw GPU records of gpu/summary/), and the cycle
# test keeps that from going round in circles.
LAYERS: tuple[tuple[str, ...], ...] = (
    # L0: the ways in: CLI glue (click: options in, a session called, its result shown), the
    # package root's public API, and the process that profiles itself (diagkit.profile, the
    # pytest plugin, the IPython magics).
    ("diagkit/cli.py", "diagkit/commands/", "diagkit/__init__.py", "diagkit/inside/"),
    # L1: sessions: launch and attach, watch, endings, folders, finish; the deep and GPU runs.
    ("diagkit/run/", "diagkit/gpu/session.py"),
    # L2: what a session orchestrates: --deep's targets and results, dump rounds, diffs, GPU plans,
    # The findings a finished Report's sections add up to.
    (
        "diagkit/deep/",
        "diagkit/dumping/",
        "diagkit/compare/",
        "diagkit/diagnose/",
        "diagkit/gpu/plan.py",
    ),
    # L3: collectors: samplers, stacks, process facts; nsys exports; GPU summaries and collectors.
    ("diagkit/collectors/", "diagkit/gpu/nsys/", "diagkit/gpu/summary/", "diagkit/gpu/target/"),
    # L4: renderers and exporters of the Report: terminal, HTML page, Perfetto trace.
    ("diagkit/render/",),
    # L5: the Report, its sections, serde, reading, and the report folder's file names.
    ("diagkit/model/",),
    # L6: what runs inside the target, and the leaves everything may use. The gpu package's
    # own __init__ is its docstring alone.
    (
        "diagkit/target/",
        "diagkit/_runtime.py",
        "diagkit/_paths.py",
        "diagkit/errors.py",
        "diagkit/api.py",
        "diagkit/_version.py",
        "diagkit/gpu/__init__.py",
    ),
)

# What a folder may import of diagkit besides itself, whatever the layers would allow.
ONLY: dict[str, tuple[str, ...]] = {
    # The Report is read by every renderer and by other tools: it depends on nothing of diag.
    "diagkit/model/": (),
    # Runs inside the user's program, loaded before its first line: nothing heavy, nothing
    # that imports the rest of diag (the standard library only, checked below).
    "diagkit/target/": ("diagkit/_runtime.py", "diagkit/_paths.py"),
    # Renderers read the Report and the side files the model's store names, nothing else.
    "diagkit/render/": ("diagkit/model/", "diagkit/_paths.py", "diagkit/errors.py"),
}
STDLIB_ONLY = ("diagkit/target/",)
# The program's own packages, which the target side hooks into once the program has imported
# them itself (numba_events waits for the program's ``import numba``): never diag's to load.
THE_PROGRAMS = ("numba",)


@dataclass(frozen=True)
class Import:
    source: str  # the importing file, relative to the root: diagkit/run/session.py
    module: str  # the module imported: diagkit.run.launch, or json
    line: int


def module_name(rel: str) -> str:
    parts = Path(rel).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path) -> dict[str, str]:
    """{module name: file relative to ``root``} of every module of the package."""
    files = sorted(p.relative_to(root).as_posix() for p in (root / "diagkit").rglob("*.py"))
    return {module_name(f): f for f in files}


def imports(root: Path, rel: str, modules: dict[str, str]) -> list[Import]:
    """Every import in the file, wherever it stands; ``from pkg import sub`` names ``pkg.sub``."""
    tree = ast.parse((root / rel).read_bytes(), filename=rel)
    package = (
        module_name(rel) if rel.endswith("__init__.py") else module_name(rel).rpartition(".")[0]
    )
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(rel, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            out += [Import(rel, m, node.lineno) for m in subs]
            if len(subs) < len(node.names):
                out.append(Import(rel, base, node.lineno))
    return out


def _own(rel: str) -> bool:
    return rel.startswith("diagkit/")


def _matches(rel: str, entry: str) -> bool:
    return rel.startswith(entry) if entry.endswith("/") else rel == entry


def layer_of(rel: str) -> tuple[int, str] | None:
    """(layer, table entry) of a file: its most specific entry (gpu/plan.py, not gpu/)."""
    found = [(len(e), i, e) for i, row in enumerate(LAYERS) for e in row if _matches(rel, e)]
    if not found:
        return None
    _, layer, entry = max(found)
    return layer, entry


@dataclass
class Graph:
    modules: dict[str, str]  # module name -> file
    edges: list[Import]  # imports of diagkit modules only
    others: list[Import]  # imports of anything else


def graph(root: Path) -> Graph:
    modules = source_files(root)
    edges: list[Import] = []
    others: list[Import] = []
    for rel in modules.values():
        for imp in imports(root, rel, modules):
            mine = imp.module == "diagkit" or imp.module.startswith("diagkit.")
            (edges if mine else others).append(imp)
    return Graph(modules, edges, others)


def _file(g: Graph, module: str) -> str:
    # An import of a name the package does not have (a typo, a module since moved) is
    # reported where it points; ast cannot tell a module from a function in a module.
    return g.modules.get(module) or g.modules.get(module.rpartition(".")[0], module)


def unplaced(g: Graph) -> list[str]:
    return [rel for rel in g.modules.values() if layer_of(rel) is None]


def upward(g: Graph) -> list[str]:
    out = []
    for imp in g.edges:
        src, dst = layer_of(imp.source), layer_of(_file(g, imp.module))
        if src is None or dst is None:
            continue  # unplaced() names it
        if dst[0] < src[0]:
            out.append(
                f"{imp.source}:{imp.line} (L{src[0]}, {src[1]}) imports {imp.module} "
                f"(L{dst[0]}, {dst[1]}), a layer above it"
            )
    return out


def cycles(g: Graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    nexts: dict[str, set[str]] = {m: set() for m in g.modules}
    for imp in g.edges:
        target = imp.module if imp.module in g.modules else imp.module.rpartition(".")[0]
        if target in g.modules and target != module_name(imp.source):
            nexts[module_name(imp.source)].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(nexts):
        if start in index:
            continue
        work = [(start, iter(sorted(nexts[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        group.append(m)
                        if m == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif nxt not in index:
                index[nxt] = low[nxt] = len(index)
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(nexts[nxt]))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return found


def outside_allowed(g: Graph) -> list[str]:
    out = []
    for imp in g.edges:
        for folder, allowed in ONLY.items():
            dst = _file(g, imp.module)
            ok = _matches(dst, folder) or any(_matches(dst, a) for a in allowed)
            if _matches(imp.source, folder) and not ok:
                out.append(f"{imp.source}:{imp.line} imports {imp.module}: {folder} may not")
    return out


def not_stdlib(g: Graph) -> list[str]:
    return [
        f"{imp.source}:{imp.line} imports {imp.module}: not the standard library"
        for imp in g.others
        if any(_matches(imp.source, f) for f in STDLIB_ONLY)
        and imp.module.partition(".")[0] not in (*sys.stdlib_module_names, *THE_PROGRAMS)
    ]


@pytest.fixture(scope="module")
def tree() -> Graph:
    return graph(ROOT)


def test_every_module_has_a_layer(tree):
    assert unplaced(tree) == [], "add the file (or its folder) to LAYERS"


def test_imports_point_down_the_layers(tree):
    assert upward(tree) == []


def test_no_import_cycles(tree):
    assert cycles(tree) == []


def test_the_model_the_target_side_and_the_renderers_import_only_what_they_may(tree):
    assert outside_allowed(tree) == []


def test_the_target_side_imports_only_the_standard_library(tree):
    assert not_stdlib(tree) == []


def test_the_checks_see_what_they_check(tree):
    # Guards the parse itself: a walk that found no imports would pass every test above.
    sources = {imp.source for imp in tree.edges}
    assert len(tree.modules) > 80 and len(tree.edges) > 200
    assert "diagkit/commands/profile.py" in sources and "diagkit/target/bootstrap.py" in sources
    lazy = [i for i in tree.edges if i.source == "diagkit/commands/profile.py"]
    assert any(i.module == "diagkit.run.session" for i in lazy)  # imported inside a function
