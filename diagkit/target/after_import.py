"""Run a callback right after the program's own import of a module, without importing it.

A one-shot finder first on ``sys.meta_path`` answers for that one name: it removes itself,
finds the spec the normal way and wraps its loader's ``exec_module`` so that the callback
runs once the module's top level has. Every other import passes it by at one string
comparison.

Standard library only: this runs inside the user's program.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any


def after_import(name: str, callback: Any) -> None:
    """``callback()`` (which must not raise) once ``name`` has been imported by the program."""
    sys.meta_path.insert(0, _AfterImport(name, callback))


def forget_after_import(callback: Any) -> None:
    """Take back ``after_import``'s finders for ``callback`` that have not fired yet."""
    sys.meta_path[:] = [
        f for f in sys.meta_path if not (isinstance(f, _AfterImport) and f.callback == callback)
    ]


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback`` (which must not raise) right after the module ``name`` is imported."""

    def __init__(self, name: str, callback: Any) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:  # the program's own import then meets the same error, as it would
            return None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original = spec.loader.exec_module
        callback = self.callback

        def exec_module(module: ModuleType) -> None:
            original(module)
            callback()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
