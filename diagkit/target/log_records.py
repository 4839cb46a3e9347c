"""The program's own ``logging`` records, kept for the report's timeline.

A handler on the root logger would change what the program prints: with one there,
``logging.basicConfig()`` does nothing and the last-resort handler no longer prints
warnings. So nothing is added to any logger: ``Logger.handle``, through which every record
a logger lets pass goes to its handlers, is wrapped at the class, and the wrapper notes the
record before handing it on unchanged. Records the program's levels drop are never made,
and are not seen. diag does not import logging: the wrapper goes in when the program's own
``import logging`` has run (or at once, where something imported it already).

The first ``KEEP`` records at or above the level are kept whole (message cut at ``CHARS``);
every one is counted by level.

Standard library only: this runs inside the user's program.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from diagkit.target.after_import import after_import, forget_after_import
from diagkit.target.channel import Channel
from diagkit.target.event_kinds import EventKind

KEEP = 1000
# logging's level numbers, by name: what diag's ``--log-level`` and ``log_level=`` take.
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
CHARS = 300


class LogRecorder:
    def __init__(self, channel: Channel, level: int = 20) -> None:
        self._channel = channel
        self.level = level
        self._counts: dict[str, int] = {}
        self._kept: list[list[Any]] = []
        self._lock = threading.Lock()
        self._original: Any = None
        self._wrapper: Any = None

    def install(self) -> None:
        if "logging" in sys.modules:
            self._wrap()
        else:
            after_import("logging", self._wrap)

    def _wrap(self) -> None:
        import logging  # the program's: already imported when this runs

        original = logging.Logger.handle
        recorder = self

        def handle(self: logging.Logger, record: logging.LogRecord) -> None:
            try:
                recorder._note(record)
            except Exception as exc:  # a record diag cannot read is the program's all the same
                recorder._channel.collector_failed("logging", exc)
            original(self, record)

        handle.__wrapped__ = original  # type: ignore[attr-defined]
        self._original, self._wrapper = original, handle
        logging.Logger.handle = handle  # type: ignore[method-assign]

    def _note(self, record: Any) -> None:
        if record.levelno < self.level:
            return
        name = record.levelname
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            if len(self._kept) >= KEEP:
                return
            # created is time.time(); the report's clock is monotonic: both are read now.
            t = time.monotonic_ns() - int((time.time() - record.created) * 1e9)
            self._kept.append(
                [
                    t,
                    name,
                    record.name,
                    str(record.getMessage())[:CHARS],
                    record.pathname,
                    record.lineno,
                    record.threadName,
                ]
            )

    def finish(self) -> None:
        forget_after_import(self._wrap)
        logging = sys.modules.get("logging")
        # Records logged at exit still reach the handlers, unwrapped; a wrapper the program
        # put over diag's since stays where it is.
        if logging is not None and logging.Logger.handle is self._wrapper is not None:
            logging.Logger.handle = self._original
        self._channel.emit(
            EventKind.LOGS, level=self.level, counts=self._counts, records=self._kept
        )


def level_number(name: str) -> int:
    """A level's name (checked where the user gave it) as logging's number; INFO by default."""
    return LEVELS.get(name.upper(), 20)
