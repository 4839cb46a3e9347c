"""Samples under the import machinery, shown as the module being imported.

``import polars`` runs importlib's frozen frames and every submodule's top level: counted as
they are, the tables are led by ``_find_and_load`` and ``_call_with_frames_removed``. A stack
that enters ``<frozen importlib._bootstrap...>`` below a frame of the program is an import;
the first ``<module>`` frame under it names the module, its first dotted part the top-level
import. ``fold_for_tables`` ends such a stack at one ``[import] NAME`` frame (its time goes
to the line that imported it), ``fold_for_flame`` puts that frame above the machinery, and
``imports_section`` adds the seconds up: each top-level import's, and its slowest
submodules' (inclusive: a module's time holds the imports it made).
"""

from __future__ import annotations

import functools
import os
import re
import sysconfig
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from diagkit.collectors.sample_stacks import by_distinct_stack, program_frames, rewrite_stacks
from diagkit.model.imports import ImportedModule, ImportsSection, Submodule

IMPORT_FILE = "<import>"
_MACHINERY = "<frozen importlib._bootstrap"
_COMPILER = re.compile(r"[/\\](numba|llvmlite)[/\\]")
_ROOTS = sorted(
    {
        os.path.realpath(p) + os.sep
        for key in ("stdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    },
    key=len,
    reverse=True,
)
TOP_MODULES = 12
SUBMODULES = 5


def module_name(path: str) -> str:
    """``.../site-packages/polars/io/csv.py`` -> ``polars.io.csv``; a package's __init__ is
    the package; a file outside the installed libraries is named by its own stem."""
    real = os.path.realpath(path) if path.startswith(os.sep) else path
    rel = ""
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        if marker in real:
            rel = real.rsplit(marker, 1)[1]
            break
    else:
        rel = next((real[len(r) :] for r in _ROOTS if real.startswith(r)), "")
    rel = rel or _package_path(real)
    parts = rel.removesuffix(".py").split(os.sep)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(p for p in parts if p)


@functools.lru_cache(maxsize=4096)
def _package_path(path: str) -> str:
    """A file outside the installed libraries (the user's own package), as a path from the
    first folder up that is no longer a package: ``.../proj/est/aggte.py`` -> ``est/aggte.py``."""
    folder, parts = os.path.dirname(path), [os.path.basename(path)]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, name = os.path.split(folder)
        parts.insert(0, name)
        if not name:
            break
    return os.sep.join(parts)


def _import_at(frs: list[dict[str, Any]]) -> tuple[int, list[str]] | None:
    """Where the import machinery starts in the stack, and the modules being imported there,
    outermost first; None for a stack outside any import."""
    start = next(
        (i for i, f in enumerate(frs) if (f.get("file") or "").startswith(_MACHINERY)), None
    )
    if not start:  # at 0: no frame of the program's above it
        return None
    if any(_COMPILER.search(f.get("file") or "") for f in frs[:start]):
        return None  # Numba's compiler importing its own modules: part of the compile
    mods = [module_name(f.get("file") or "") for f in frs[start:] if f.get("name") == "<module>"]
    return start, mods


def _fold(doc: dict[str, Any], keep_machinery: bool) -> dict[str, Any]:
    frames: list[dict[str, Any]] = doc.get("shared", {}).get("frames", [])

    def rewrite(stack: list[int], frame: Callable[[str], int]) -> list[int] | None:
        found = _import_at([frames[i] for i in stack])
        if found is None:
            return None
        start, mods = found
        node = frame(f"[import] {mods[0].split('.')[0]}" if mods else "[import]")
        return [*stack[:start], node, *(stack[start:] if keep_machinery else [])]

    return rewrite_stacks(doc, IMPORT_FILE, rewrite)


def fold_for_tables(doc: dict[str, Any]) -> dict[str, Any]:
    return _fold(doc, keep_machinery=False)


def fold_for_flame(doc: dict[str, Any]) -> dict[str, Any]:
    return _fold(doc, keep_machinery=True)


def imports_section(doc: dict[str, Any], rate: int) -> ImportsSection:
    """Each top-level import's seconds and share of the program's sampled seconds (the
    samples ``doc`` holds: the time tables' own), and its slowest submodules."""
    frames: list[dict[str, Any]] = doc.get("shared", {}).get("frames", [])
    seconds: dict[str, float] = defaultdict(float)
    top_of: dict[str, str] = {}
    weight_s = 0.0
    for prof in doc.get("profiles", []):
        for stack, (_, w) in by_distinct_stack(prof, rate).items():
            frs = program_frames([frames[i] for i in stack])
            if not frs:
                continue
            weight_s += w
            found = _import_at(frs)
            if found is None or not found[1]:
                continue
            mods = found[1]
            top = mods[0].split(".")[0]
            for m in dict.fromkeys([top, *mods]):  # each module once per sample
                seconds[m] += w
                top_of.setdefault(m, top)
    share = (lambda s: s / weight_s) if weight_s > 0 else (lambda s: 0.0)
    tops = sorted((m for m in seconds if top_of[m] == m), key=lambda m: -seconds[m])
    sec = ImportsSection(total_s=sum(seconds[m] for m in tops))
    sec.share = share(sec.total_s)
    for top in tops[:TOP_MODULES]:
        subs = sorted(
            (m for m in seconds if top_of[m] == top and m != top), key=lambda m: -seconds[m]
        )
        sec.modules.append(
            ImportedModule(
                name=top,
                seconds=seconds[top],
                share=share(seconds[top]),
                slowest=[
                    Submodule(name=m, seconds=seconds[m], share=share(seconds[m]))
                    for m in subs[:SUBMODULES]
                ],
            )
        )
    return sec
