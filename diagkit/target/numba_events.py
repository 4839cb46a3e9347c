"""Numba compile events, hooked in only if and when the program imports numba.

Importing numba ourselves would add ~0.6 s and tens of MB to every run, so a
one-shot import hook (``after_import``) waits for the program's own ``import numba`` and
registers the listener right after numba's ``__init__`` has run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from types import FrameType
from typing import Any

from diagkit.target.after_import import after_import, forget_after_import
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind


class NumbaWatcher:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._local = threading.local()
        self.dispatchers: dict[int, Any] = {}
        self._listener: Any = None

    def install(self) -> None:
        if "numba" in sys.modules:  # imported by a sitecustomize or .pth: hook in at once
            self._register()
        else:
            after_import("numba", self._register)

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
            self._listener = Listener()
            event.register("numba:compile", self._listener)
            self._channel.emit(
                EventKind.JIT_READY, version=getattr(sys.modules["numba"], "__version__", "")
            )
        except Exception as exc:
            self._channel.emit(
                EventKind.JIT_UNAVAILABLE, reason=f"numba.core.event unusable: {exc}"
            )

    def uninstall(self) -> None:
        """Leave numba as it was (a process that profiles itself goes on running)."""
        forget_after_import(self._register)
        listener, self._listener = self._listener, None
        if listener is not None and "numba" in sys.modules:
            with contextlib.suppress(Exception):  # the program unregistered it itself
                from numba.core import event

                event.unregister("numba:compile", listener)

    def _on_start(self) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        # start, nested inclusive ns, and for the outermost compile the program's line that
        # called the dispatcher: diag folds the compiler's samples under it, named for it.
        stack.append([time.monotonic_ns(), 0, *(("", 0) if stack else _caller())])

    def _on_end(self, ev: Any) -> None:
        end = time.monotonic_ns()
        stack = self._local.__dict__.get("stack")
        if not stack:
            return
        start, nested, caller_file, caller_line = stack.pop()
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
            caller_file=caller_file,
            caller_line=caller_line,
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


_COMPILER_DIRS = tuple(f"{os.sep}{d}{os.sep}" for d in ("numba", "llvmlite"))


def _caller() -> tuple[str, int]:
    """The frame just above the outermost Numba or llvmlite frame: the program's call that
    compiles (Numba's own frames, and the contextlib ones it calls through, are below it)."""
    frame: FrameType | None = sys._getframe(1)
    above: FrameType | None = None
    while frame is not None:
        if any(d in frame.f_code.co_filename for d in _COMPILER_DIRS):
            above = frame.f_back
        frame = frame.f_back
    if above is None:
        return "", 0
    return above.f_code.co_filename, above.f_lineno


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
