"""Count every warning the program raises while it prints exactly what it would have printed.

Python's own filters show a "default" warning once per location and drop the
repeats before any hook can see them, so counting needs every occurrence routed
through Python. An ``always`` filter at the end of our chain does that, and the
action the program's own filters would have taken is replayed here: ignore,
error, once, module, default and always behave as before. A location that fires
more than CAP times gets a precise filter with its original action, so a warning
in a hot loop stops costing Python-level time; its count is then marked capped.
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind

CAP = 100_000
_OURS = ("always", None, Warning, None, 0)


class WarningCounter:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._counts: dict[tuple[str, str, str, int], list[Any]] = {}
        self._shown: set[tuple[Any, ...]] = set()
        self._orig_showwarnmsg = warnings._showwarnmsg  # type: ignore[attr-defined]
        self._added: list[tuple[Any, ...]] = []  # filters put in at CAP

    def install(self) -> None:
        warnings.filters.insert(0, _OURS)  # type: ignore[attr-defined]  # a list at run time
        warnings._filters_mutated()  # type: ignore[attr-defined]
        warnings._showwarnmsg = self._on_warning  # type: ignore[attr-defined]

    def _on_warning(self, msg: warnings.WarningMessage) -> None:
        text = str(msg.message)
        category = msg.category
        try:
            action = self._original_action(text, category, msg.filename, msg.lineno)
        except Exception:  # an odd filter entry must not break the program: print as default
            action = "default"
        try:
            self._count(msg, text, action)
        except Exception as exc:  # runs at the program's warn(): recorded, never raised there
            self._channel.collector_failed("warnings", exc)
        if action == "error":
            raise msg.message if isinstance(msg.message, Warning) else category(text)
        if action == "ignore":
            return
        if action != "always":
            scope = {"once": (text, category), "module": (text, category, msg.filename)}
            sig = scope.get(action, (text, category, msg.filename, msg.lineno))
            if sig in self._shown:
                return
            self._shown.add(sig)
        self._orig_showwarnmsg(msg)

    def _count(self, msg: warnings.WarningMessage, text: str, action: str) -> None:
        category = msg.category
        key = (category.__name__, text, msg.filename, msg.lineno)
        rec = self._counts.get(key)
        if rec is None:
            rec = self._counts[key] = [0, time.monotonic_ns(), False]
            self._channel.emit(
                EventKind.WARNING, category=key[0], message=text, file=msg.filename, line=msg.lineno
            )
        rec[0] += 1
        if rec[0] == CAP and not rec[2]:
            rec[2] = True
            warnings.filterwarnings(
                "error" if action == "error" else "ignore",
                message=re.escape(text) + r"\Z",
                category=category,
                lineno=msg.lineno,
            )
            self._added.append(warnings.filters[0])  # type: ignore[attr-defined]

    @staticmethod
    def _original_action(text: str, category: type, filename: str, lineno: int) -> str:
        module = filename[:-3] if filename.endswith(".py") else filename or "<unknown>"
        for item in warnings.filters:
            if item is _OURS or item == _OURS:
                continue
            action, msg_re, cat, mod_re, ln = item
            if (
                _matches(msg_re, text)
                and issubclass(category, cat)
                and _matches(mod_re, module)
                and (ln == 0 or lineno == ln)
            ):
                return action
        return warnings.defaultaction  # type: ignore[attr-defined]  # not in the stubs

    def uninstall(self) -> None:
        """Put the filters and the printer back (a process that profiles itself goes on)."""
        ours = [_OURS, *self._added]
        warnings.filters[:] = [  # type: ignore[attr-defined,index]
            f for f in warnings.filters if not any(f is o or f == o for o in ours)
        ]
        warnings._filters_mutated()  # type: ignore[attr-defined]
        if warnings._showwarnmsg == self._on_warning:  # type: ignore[attr-defined]
            warnings._showwarnmsg = self._orig_showwarnmsg  # type: ignore[attr-defined]

    def finish(self) -> None:
        self._channel.emit(
            EventKind.WARNING_COUNTS,
            counts=[[*k, v[0], v[1], v[2]] for k, v in self._counts.items()],
        )


def _matches(pattern: Any, value: str) -> bool:
    # Filters made by the interpreter at start-up hold plain strings, compared whole.
    if pattern is None:
        return True
    if isinstance(pattern, str):
        return pattern == value
    return pattern.match(value) is not None
