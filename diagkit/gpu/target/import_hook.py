"""Run a function right after a module finishes importing, without importing it ourselves.

Importing ``cupy`` or ``nvtx`` up front would cost the target a second or so
and change what it has loaded; instead a finder on ``sys.meta_path`` wraps the
loader of the watched names and calls back once the module has executed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

Callback = Callable[[ModuleType], None]


class _Loader(importlib.abc.Loader):
    def __init__(self, real: importlib.abc.Loader, done: Callable[[ModuleType], None]) -> None:
        self._real, self._done = real, done

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module should look as if we were never there.
        module.__loader__ = self._real
        if module.__spec__ is not None:
            module.__spec__.loader = self._real
        self._real.exec_module(module)
        self._done(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(
        self, hooks: Mapping[str, Callback], on_error: Callable[[str, BaseException], None]
    ):
        self.hooks = dict(hooks)  # each one is taken out once it has run
        self.on_error = on_error
        self._busy = threading.local()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.hooks or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, lambda mod: self._fire(fullname, mod))
        return spec

    def _fire(self, name: str, module: ModuleType) -> None:
        hook = self.hooks.pop(name, None)
        if hook is None:
            return
        try:
            hook(module)
        except Exception as exc:  # a hook must never break the program's import
            self.on_error(name, exc)


def when_imported(
    hooks: Mapping[str, Callback], on_error: Callable[[str, BaseException], None]
) -> Callable[[], None]:
    """Call each hook once its module is imported (now, if it already is); returns an uninstall."""
    pending = {}
    for name, hook in hooks.items():
        mod = sys.modules.get(name)
        if mod is None:
            pending[name] = hook
            continue
        try:
            hook(mod)
        except Exception as exc:
            on_error(name, exc)
    if not pending:
        return lambda: None
    finder = _Finder(pending, on_error)
    sys.meta_path.insert(0, finder)

    def uninstall() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    return uninstall
