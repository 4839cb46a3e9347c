"""The channel's record kinds: every one written is named in EventKind and read by diag, and back.

Read from the source, not from a run: a kind that only a crash or a rare collector
writes is checked as surely as the common ones.
"""

from __future__ import annotations

import ast

from diagkit.target.event_kinds import EventKind
from tests.conftest import ROOT

PACKAGE = ROOT / "diagkit"
NAMES = {name for name in vars(EventKind) if name.isupper()}


def _trees() -> dict[str, ast.Module]:
    return {
        str(p.relative_to(ROOT)): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")
    }


def _kind_name(node: ast.expr) -> str | None:
    """``X`` of ``EventKind.X``, else None."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "EventKind"
    ):
        return node.attr
    return None


def _is_k(node: ast.expr, kept: set[str] = frozenset()) -> bool:
    """``ev.get("k")``, ``ev["k"]``, or a name in ``kept`` that one was assigned to."""
    if isinstance(node, ast.Name):
        return node.id in kept
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        first = node.args[0] if node.args else None
        return node.func.attr == "get" and isinstance(first, ast.Constant) and first.value == "k"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "k"
    return False


def _writes(node: ast.AST) -> list[ast.expr]:
    """The kinds ``node`` writes: an ``emit``'s first argument, a hand-built record's "k"."""
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "emit":
        return node.args[:1]
    if isinstance(node, ast.Dict):
        return [
            v
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and k.value == "k"
        ]
    return []


def _written(trees: dict[str, ast.Module]) -> tuple[set[str], list[str]]:
    """(kinds emitted, places where a kind is written other than as EventKind.X)."""
    kinds: set[str] = set()
    loose: list[str] = []
    for file, tree in trees.items():
        for node in ast.walk(tree):
            for value in _writes(node):
                name = _kind_name(value)
                if name is None:
                    loose.append(f"{file}:{node.lineno}")
                else:
                    kinds.add(name)
    return kinds, loose


def _bare_word(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple | ast.Set | ast.List):
        return any(_bare_word(e) for e in node.elts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _read(trees: dict[str, ast.Module]) -> tuple[set[str], list[str]]:
    """(kinds named anywhere but where they are written, places where a record's kind is
    compared with a bare string or looked up by one)."""
    kinds: set[str] = set()
    loose: list[str] = []
    for file, tree in trees.items():
        written = {id(v) for node in ast.walk(tree) for v in _writes(node)}
        kept = {
            t.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and _is_k(node.value)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            name = _kind_name(node) if isinstance(node, ast.expr) else None
            if name is not None and id(node) not in written:
                kinds.add(name)
            compared = isinstance(node, ast.Compare) and _is_k(node.left, kept)
            if compared and any(_bare_word(other) for other in node.comparators):
                loose.append(f"{file}:{node.lineno}")
            looked_up = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "events_of"
            if looked_up and any(_bare_word(a) for a in node.args[1:]):
                loose.append(f"{file}:{node.lineno}")
    return kinds, loose


def test_every_kind_is_written_through_its_name():
    written, loose = _written(_trees())
    assert loose == []
    assert written  # the walk found the emitters


def test_every_kind_the_program_writes_is_one_diag_reads():
    trees = _trees()
    written, _ = _written(trees)
    read, loose = _read(trees)
    assert loose == []
    assert written - read == set(), "written, and read by nobody: a record lost in silence"
    assert read - written == set(), "read, and written by nobody: a reader that waits in vain"
    assert written == NAMES, "a name in EventKind that nothing writes"


def test_names_and_values_are_one_to_one():
    values = [getattr(EventKind, n) for n in NAMES]
    assert len(set(values)) == len(values)
    assert all(v == n.lower() for n, v in zip(NAMES, values, strict=True))
