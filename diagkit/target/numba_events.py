"""Numba compile events, hooked in only if and when the program imports numba.

Importing numba ourselves would add ~0.6 s and tens of MB to every run, so a
one-shot import hook waits for the program's own ``import numba`` and registers
the listener right after numba's ``__init__`` has run.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import time
from types import ModuleType
from typing import Any

from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind


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


class NumbaWatcher:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._local = threading.local()
        self.dispatchers: dict[int, Any] = {}

    def install(self) -> None:
        if "numba" in sys.modules:  # imported by a sitecustomize or .pth: hook in at once
            self._register()
        else:
            sys.meta_path.insert(0, _AfterImport("numba", self._register))

    def _register(self) -> None:
        try:
            from numba.core import event
        except Exception as exc:  # an incompatible numba: say so instead of failing the run
            self._channel.emit(
                EventKind.JIT_UNAVAILABLE, reason=f"numba.core.event unusable: {exc}"
            )
            return
        watcher = self

        # Called inside numba's compiler, on the program's call: failures are recorded only.
        class Listener(event.Listener):
            def on_start(self, ev: Any) -> None:
                try:
                    watcher._on_start()
                except Exception as exc:
                    watcher._channel.collector_failed("numba", exc)

            def on_end(self, ev: Any) -> None:
                try:
                    watcher._on_end(ev)
                except Exception as exc:
                    watcher._channel.collector_failed("numba", exc)

        try:
            event.register("numba:compile", Listener())
            self._channel.emit(
                EventKind.JIT_READY, version=getattr(sys.modules["numba"], "__version__", "")
            )
        except Exception as exc:
            self._channel.emit(
                EventKind.JIT_UNAVAILABLE, reason=f"numba.core.event unusable: {exc}"
            )

    def _on_start(self) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append([time.monotonic_ns(), 0])  # start, nested inclusive ns

    def _on_end(self, ev: Any) -> None:
        end = time.monotonic_ns()
        stack = self._local.__dict__.get("stack")
        if not stack:
            return
        start, nested = stack.pop()
        inclusive = end - start
        if stack:
            stack[-1][1] += inclusive
        data = ev.data or {}
        disp = data.get("dispatcher")
        func = getattr(disp, "py_func", None)
        name = _qualified(func) if func is not None else repr(disp)
        if disp is not None:
            self.dispatchers[id(disp)] = disp
        # numba 0.68's is_failed reads True on success; the recorded exc_details are the real signal.
        ok = getattr(ev, "_exc_details", None) is None
        self._channel.emit(
            EventKind.COMPILE,
            t=start,
            function=name,
            signature=_signature(data.get("args")),
            inclusive_ns=inclusive,
            exclusive_ns=inclusive - nested,
            ok=ok,
        )

    def finish(self) -> None:
        if "numba" not in sys.modules:
            return
        stats = []
        for disp in self._all_dispatchers():
            st = getattr(disp, "stats", None)
            if st is None:
                continue
            hits = sum(st.cache_hits.values())
            misses = sum(st.cache_misses.values())
            if hits or misses:
                stats.append([_qualified(disp.py_func), hits, misses])
        self._channel.emit(EventKind.JIT_CACHE, stats=stats)

    def _all_dispatchers(self) -> list[Any]:
        # Dispatchers loaded from the on-disk cache fire no compile event; they are
        # almost always module globals, which a scan of sys.modules finds cheaply.
        try:
            from numba.core.dispatcher import Dispatcher
        except Exception:
            return list(self.dispatchers.values())
        found = dict(self.dispatchers)
        for mod in list(sys.modules.values()):
            d = getattr(mod, "__dict__", None)
            if not d:
                continue
            for v in list(d.values()):
                if isinstance(v, Dispatcher):
                    found[id(v)] = v
        return list(found.values())


def _qualified(func: Any) -> str:
    mod = getattr(func, "__module__", "") or ""
    return f"{mod}:{getattr(func, '__qualname__', repr(func))}"


def _signature(args: Any) -> str:
    if args is None:
        return ""
    try:
        return "(" + ", ".join(str(a) for a in args) + ")"
    except TypeError:
        return str(args)
