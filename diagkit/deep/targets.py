"""Which functions the tracers pass traces line by line, and how a user's name resolves to one.

Hot functions come from the sampled pass: the top user functions by own time,
outside the standard library and site-packages. ``--lines`` and
``--memory-lines`` add names given as ``module:qualname``, ``path.py:function``
or a bare function name in the program's own file. Resolution reads files only:
no module of the program is imported in diag's process.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.machinery
import importlib.metadata
import os
import pkgutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from diagkit._paths import is_own_file, real_path
from diagkit.collectors.sample_stacks import is_library_file, weighted_samples, work_samples
from diagkit.deep.codeindex import CodeInfo, containing, index_file
from diagkit.model.report import TimeSection

HOT_LIMIT = 3
HOT_MIN_SHARE = 0.02
JITTED_LIMIT = 5
_PathFinder = importlib.machinery.PathFinder
# Code objects that cannot be asked for by name: comprehensions, lambdas, generator expressions.
_ANONYMOUS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<lambda>")


@dataclass(frozen=True)
class Target:
    file: str  # real path
    first: int
    qualname: str
    jitted: bool
    reason: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.file, self.first, self.qualname)


@dataclass
class Resolution:
    targets: list[Target]
    problems: list[str]  # one line each, ready to print


def _target(info: CodeInfo, reason: str) -> Target:
    return Target(info.file, info.first, info.qualname, info.jitted, reason)


def main_file(kind: str, target: str) -> str | None:
    """The file the program starts in: the script, or the module's own file for ``-m``."""
    if kind == "script":
        path = os.path.join(target, "__main__.py") if os.path.isdir(target) else target
        return real_path(path)
    return find_module_file(target, [os.getcwd(), *sys.path[1:]])


def search_path(kind: str, target: str) -> list[str]:
    """sys.path as the program will see it: its own folder (or the cwd for -m) first."""
    head = os.path.dirname(os.path.abspath(target)) if kind == "script" else os.getcwd()
    return [head, *sys.path[1:]]


def find_module_file(name: str, path: list[str]) -> str | None:
    """A module's source file, found the way import would find it, without running any package."""
    spec = _find_spec(name, path)
    origin = spec.origin if spec is not None else None
    return real_path(origin) if origin and origin.endswith(".py") else None


def _find_spec(name: str, path: list[str]) -> importlib.machinery.ModuleSpec | None:
    """Each level of ``name`` asked of the import system's finders in their order.

    The program's ``sys.path`` goes to ``PathFinder``; the other finders are asked as import
    asks them: an editable install (``pip install -e``) is found by a finder of its own, not
    by a path entry. No parent package's ``__init__`` runs: the parent's search locations
    come from its spec."""
    parts = name.split(".")
    locations: list[str] | None = None
    spec = None
    for i in range(len(parts)):
        spec = _ask_finders(".".join(parts[: i + 1]), locations, path)
        if spec is None:
            return None
        locations = list(spec.submodule_search_locations or [])
        if i < len(parts) - 1 and not locations:
            return None
    return spec


def _ask_finders(
    fullname: str, locations: list[str] | None, path: list[str]
) -> importlib.machinery.ModuleSpec | None:
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        search = (path if locations is None else locations) if finder is _PathFinder else locations
        try:
            spec = find(fullname, search)
        except Exception:  # a broken finder of some installed package: ask the next one
            continue
        if spec is not None:
            return spec
    return None


def resolve(specs: list[str], option: str, kind: str, target: str) -> Resolution:
    """Resolve each ``--lines``/``--memory-lines`` name; the ones that fail become problem lines."""
    res = Resolution([], [])
    home = main_file(kind, target)
    for spec in specs:
        found, problem = _resolve_one(spec, option, kind, target, home)
        res.targets += found
        if problem:
            res.problems.append(problem)
    return res


def _resolve_one(
    spec: str, option: str, kind: str, target: str, home: str | None
) -> tuple[list[Target], str]:
    where, sep, name = spec.rpartition(":")
    if not sep:
        where, name = "", spec
    if not name:
        return [], f"{option} {spec}: no function name after ':'"
    if not where or where == "__main__":
        file = home
        label = os.path.basename(home) if home else target
    elif where.endswith(".py") or os.sep in where:
        file = real_path(where) if os.path.isfile(where) else None
        label = where
        if file is None:
            return [], f"{option} {spec}: no such file {where}"
    else:
        path = search_path(kind, target)
        file = find_module_file(where, path)
        label = where
        if file is None:
            close = _close_module(where, path)
            return [], f"{option} {spec}: no module named {where!r}{close}"
    infos = [i for i in index_file(file) if i.name not in _ANONYMOUS] if file else []
    if not infos:
        return [], f"{option} {spec}: cannot read or compile {label}"
    exact = [i for i in infos if i.qualname == name]
    picked = exact or [i for i in infos if i.name == name.rsplit(".", 1)[-1] and "." not in name]
    picked = picked or [i for i in infos if i.qualname.replace("<locals>.", "") == name]
    if not picked:
        names = sorted({i.qualname for i in infos} | {i.name for i in infos})
        return [], f"{option} {spec}: no function {name!r} in {label}{_close(name, names)}"
    return [_target(i, option) for i in picked], ""


def _near(name: str, names: set[str]) -> list[str]:
    return difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)


def _close(name: str, candidates: list[str]) -> str:
    near = _near(name, set(candidates))
    return f"; closest: {', '.join(near)}" if near else ""


def _close_module(name: str, path: list[str]) -> str:
    """The closest names to a module that does not resolve: its first part that is not found
    is compared with what exists at that level (the parent package's modules, or the top-level
    modules of the program's path and of the installed distributions, editable ones included)."""
    parts = name.split(".")
    found = (k for k in range(1, len(parts)) if _find_spec(".".join(parts[:k]), path) is None)
    i = next(found, len(parts)) - 1  # the first part that does not resolve
    parent = ".".join(parts[:i])
    if parent:
        spec = _find_spec(parent, path)
        where = list(spec.submodule_search_locations or []) if spec is not None else []
        near = _near(parts[i], {m.name for m in pkgutil.iter_modules(where)})
    else:  # the program's own folder first: a typo there is likelier than one of a package
        near = _near(parts[i], {m.name for m in pkgutil.iter_modules(path[:1])})
        if not near:
            names = {m.name for m in pkgutil.iter_modules(path)}
            with contextlib.suppress(Exception):  # broken metadata only costs the suggestion
                names |= set(importlib.metadata.packages_distributions())
            near = _near(parts[i], names)
    full = [".".join([*parts[:i], n, *parts[i + 1 :]]) for n in near]
    return f"; closest: {', '.join(full)}" if full else ""


def is_user_file(path: str) -> bool:
    """The program's own code: not the standard library, site-packages or diag itself."""
    if not path or is_library_file(path):
        return False
    return not is_own_file(real_path(path))


def user_own_seconds(speedscope: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Sampled seconds by the innermost frame in the program's own code: a user function's
    own lines with the library calls they make (``np.ones`` counts for the line that calls it)."""
    frames = speedscope["shared"]["frames"]
    user = [is_user_file(fr.get("file") or "") for fr in frames]
    out: dict[tuple[str, str], float] = defaultdict(float)
    for prof in speedscope.get("profiles", []):
        for stack, w in weighted_samples(prof, 1):
            for i in reversed(stack):
                if user[i]:
                    out[(frames[i]["name"], frames[i].get("file") or "")] += w
                    break
    return out


def hot_targets(
    time: TimeSection, speedscope: dict[str, Any] | None, limit: int = HOT_LIMIT
) -> list[Target]:
    """The top user functions of the sampled pass by the time of their own lines."""
    user = [
        f
        for f in time.functions
        if f.kind == "python" and is_user_file(f.file) and not f.name.endswith(_ANONYMOUS)
    ]
    if speedscope and not time.idle_included:
        speedscope = work_samples(speedscope)  # as the tables: a thread's wait is not its work
    own = user_own_seconds(speedscope) if speedscope else {}
    total = sum(own.values()) or 1.0
    ranked = sorted(user, key=lambda f: (-own.get((f.name, f.file), 0.0), -f.own_s))
    picked = [f for f in ranked if own.get((f.name, f.file), 0.0) / total >= HOT_MIN_SHARE][:limit]
    if not picked:
        picked = sorted(user, key=lambda f: -f.total_s)[:1]
    out: list[Target] = []
    for f in picked:
        info = containing(real_path(f.file), f.name, f.line)
        if info is not None:
            out.append(_target(info, "hot in the sampled pass"))
    return out


def jitted_targets(time: TimeSection, extra_files: list[str]) -> list[Target]:
    """Numba-decorated functions of the user files the sampled pass saw (for ``--no-jit``)."""
    files = dict.fromkeys(
        [real_path(f.file) for f in time.functions if f.kind == "python" and is_user_file(f.file)]
        + extra_files
    )
    found = [i for f in files for i in index_file(f) if i.jitted]
    return [_target(i, "jitted (--no-jit)") for i in found[:JITTED_LIMIT]]


def merge(*groups: list[Target]) -> list[Target]:
    """One target per code object; the first reason given wins."""
    seen: dict[tuple[str, int, str], Target] = {}
    for group in groups:
        for t in group:
            seen.setdefault(t.key, t)
    return list(seen.values())
