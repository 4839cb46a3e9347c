"""A source file named the way the import system found it, so that two runs of the same code
in different checkouts, virtual environments or machines name it alike."""

from __future__ import annotations

import os
import re
from functools import cache

from diagkit.model.report import Target

# An installed file is named from its site folder on, a standard-library file from its
# lib/pythonX.Y: the prefix before either differs between machines and environments.
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]")
_STDLIB = re.compile(r"[/\\]lib[/\\]python\d+(?:\.\d+)?t?[/\\]")


def portable_path(path: str, target: Target) -> str:
    """``path`` relative to where the run imported it from: its site folder, the standard
    library, the script's folder (``sys.path[0]``), or the working directory; otherwise as is."""
    if not path or not os.path.isabs(path):
        return path
    for marker in (_SITE, _STDLIB):
        found = list(marker.finditer(path))
        if found:  # the last one: a virtual environment can live inside another prefix
            return path[found[-1].end() :]
    script = target.argv[0] if target.kind == "script" and target.argv else ""
    for root in _roots(script, target.cwd):
        rel = under(path, root)
        if rel is not None:
            return rel
    return path


def under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when it lies below it, else None."""
    if root and os.path.isabs(path) and path.startswith(root.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, root)
    return None


@cache  # asked once per function and line of a report, always of the same run
def _roots(script: str, cwd: str) -> tuple[str, ...]:
    """The script's folder before the working directory: it is the deeper of the two
    whenever the script is run from a parent folder (``python va/boot.py``)."""
    roots = []
    if script and cwd:
        roots.append(os.path.dirname(os.path.join(cwd, script)))
    if cwd:
        roots.append(cwd)
    return tuple(os.path.normpath(r) for r in roots)


def portable_argv(target: Target) -> list[str]:
    """The command line with a script named as ``portable_path`` names its files."""
    if target.kind != "script" or not target.argv:
        return list(target.argv)
    script = os.path.normpath(os.path.join(target.cwd, target.argv[0]))
    return [os.path.basename(script), *target.argv[1:]]
