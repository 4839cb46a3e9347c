"""The program a command is to run, as its words name it: a script, a folder with a
``__main__.py``, or ``-m MODULE``; checked before anything starts.

Standard library only: ``diag profile`` resolves its target before it loads anything else.
"""

from __future__ import annotations

import os
from pathlib import Path

from diagkit.errors import DiagError
from diagkit.model.kinds import LaunchKind


def resolve_target(module: str | None, rest: list[str]) -> tuple[LaunchKind, str, list[str]]:
    """(kind, target, the program's arguments): kind is "module" or "script"."""
    if module is not None:
        if not module or module.startswith("-"):
            raise DiagError(f"-m needs a module name, got {module!r}")
        return "module", module, rest
    if not rest:
        raise DiagError("nothing to profile: give a script (diag profile script.py) or -m module")
    script, args = rest[0], rest[1:]
    if script.startswith("-"):
        raise DiagError(f"unknown option {script!r} (see 'diag profile --help')")
    path = Path(script)
    if path.is_dir():
        if (path / "__main__.py").exists():
            return "script", script, args  # python runs a directory's __main__.py
        raise DiagError(f"{script} is a directory, not a Python script")
    if not path.exists():
        raise DiagError(f"{script}: no such file")
    if not os.access(path, os.R_OK):
        raise DiagError(f"{script}: not readable")
    return "script", script, args
