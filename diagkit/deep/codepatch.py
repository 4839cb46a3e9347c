"""Hand the tracers the program's own code objects before any function is made from them.

line_profiler recognises a function by its bytecode, which it pads with NOPs
and swaps into ``func.__code__``; a function already running keeps its old code
and is missed until its next call, and functions defined in ``__main__`` exist
only once the script runs. So the targets are swapped in one step earlier: when
a target file is compiled (the script) or loaded by the import system (modules),
the nested code objects that match a target are replaced in the module's code,
and every function the program makes from them is traced from its first call.
This costs nothing per call, unlike a profile hook that waits for the first
call of each function.
"""

from __future__ import annotations
import __future__

import builtins
import importlib.machinery
import sys
import types
from collections.abc import Callable
from typing import Any

from diagkit._paths import real_path
from diagkit.deep.config import Key

_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag

# Called with each matching code object; returns the code object to use in its place.
Swap = Callable[[types.CodeType, Key], types.CodeType]


class CodePatcher:
    def __init__(self, keys: list[Key], swap: Swap) -> None:
        self.keys = set(keys)
        self.files = {k[0] for k in keys}
        self.swap = swap
        self.seen: set[Key] = set()
        self._compile = builtins.compile
        self._get_code = importlib.machinery.SourceFileLoader.get_code

    def install(self) -> None:
        if not self.keys:
            return
        patcher, real_compile, real_get_code = self, self._compile, self._get_code

        def compile(
            source: Any,
            filename: Any,
            mode: str,
            flags: int = 0,
            dont_inherit: bool = False,
            optimize: int = -1,
            **kwargs: Any,
        ) -> Any:
            if not dont_inherit:
                # compile() takes __future__ flags from its caller's frame, which is now this
                # one: hand it the real caller's instead.
                flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
            code = real_compile(source, filename, mode, flags, True, optimize, **kwargs)
            return patcher.patch(code) if isinstance(code, types.CodeType) else code

        def get_code(self: Any, fullname: str) -> Any:
            code = real_get_code(self, fullname)
            return patcher.patch(code) if isinstance(code, types.CodeType) else code

        compile.__doc__ = real_compile.__doc__
        builtins.compile = compile
        importlib.machinery.SourceFileLoader.get_code = get_code  # type: ignore[method-assign]

    def uninstall(self) -> None:
        builtins.compile = self._compile
        importlib.machinery.SourceFileLoader.get_code = self._get_code  # type: ignore[method-assign]

    def patch(self, code: types.CodeType) -> types.CodeType:
        """``code`` with every target code object inside it swapped (``code`` itself when none)."""
        path = real_path(code.co_filename)
        if path not in self.files:
            return code
        try:
            return self._walk(code, path)
        except Exception:  # a failed swap must never stop the program from running
            return code

    def _walk(self, code: types.CodeType, path: str) -> types.CodeType:
        consts = list(code.co_consts)
        changed = False
        for i, const in enumerate(consts):
            if isinstance(const, types.CodeType):
                new = self._walk(const, path)
                if new is not const:
                    consts[i], changed = new, True
        if changed:
            code = code.replace(co_consts=tuple(consts))
        key = (path, code.co_firstlineno, code.co_qualname)
        if key in self.keys:
            self.seen.add(key)
            code = self.swap(code, key)
        return code

    def patch_loaded(self) -> None:
        """Targets in modules imported before the program started: swap their functions' code."""
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None)
            if not f or real_path(f) not in self.files:
                continue
            for obj in _functions(vars(mod)):
                code = obj.__code__
                key = (real_path(code.co_filename), code.co_firstlineno, code.co_qualname)
                if key in self.keys:
                    self.seen.add(key)
                    obj.__code__ = self.swap(code, key)


def _functions(namespace: dict[str, Any], seen: set[int] | None = None) -> list[types.FunctionType]:
    seen = set() if seen is None else seen
    out: list[types.FunctionType] = []
    for value in list(namespace.values()):
        if isinstance(value, type):
            if id(value) not in seen:
                seen.add(id(value))
                out += _functions(dict(vars(value)), seen)
            continue
        elif isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if isinstance(value, types.FunctionType):
            out.append(value)
    return out
