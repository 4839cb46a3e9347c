"""The in-process side's only way out: JSON lines appended to a file in the run's channel folder.

Every record is written at once, so a target that segfaults or is SIGKILLed
still leaves what it recorded up to that moment. Nothing here ever raises into
the program: a record that cannot be written is dropped and the loss is said.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from diagkit.target import fds
from diagkit.target.event_kinds import EventKind

EVENTS_FILE = "events.jsonl"


class Channel:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, EVENTS_FILE)
        self._lock = threading.Lock()
        # A child the program forks while another of its threads writes a record would inherit
        # the lock held, and wait on it forever at its first record of its own.
        os.register_at_fork(after_in_child=self._new_lock)
        self._failed: set[str] = set()
        # Why nothing more can be written ("" while the channel works).
        self.lost = ""
        self._fd = -1
        self._ident = (0, 0)
        self._open(create=True)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def _open(self, *, create: bool) -> None:
        # Never created again once the parent has removed the folder; never through a link.
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = fds.move_high(os.open(self.path, flags | (os.O_CREAT if create else 0), 0o600))
        self._fd, self._ident = fd, fds.identity(fd)

    def emit(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields.setdefault("t", time.monotonic_ns())
        try:
            line = json.dumps(fields, default=repr)
        except Exception as exc:  # a field whose repr raises, a cycle: say so instead
            line = json.dumps(
                {
                    "k": EventKind.COLLECTOR_ERROR,
                    "where": f"record {kind!r}",
                    "error": repr(exc),
                    "t": fields["t"],
                }
            )
        with self._lock:
            self._write((line + "\n").encode("utf-8", "replace"))

    def collector_failed(self, where: str, exc: BaseException) -> None:
        """Record once per collector that it failed inside the program (and was stopped there)."""
        if where not in self._failed:
            self._failed.add(where)
            self.emit(EventKind.COLLECTOR_ERROR, where=where, error=repr(exc))

    def _write(self, data: bytes) -> None:
        if self._fd < 0:
            return
        if not fds.still_ours(self._fd, self._ident):
            # The program closed our descriptor, or its number now names one of the program's
            # own files: never write through it (nor close it); the file is reached by path.
            old, self._fd = self._fd, -1
            try:
                self._open(create=False)
            except OSError as exc:
                self.lost = f"the channel file could not be reopened: {exc}"
                return
            note = {"k": EventKind.CHANNEL_REOPENED, "fd": old, "t": time.monotonic_ns()}
            data = (json.dumps(note) + "\n").encode() + data
        if not self._write_all(self._fd, data):
            self.lost = "a record could not be written to the channel file (disk full?)"

    @staticmethod
    def _write_all(fd: int, data: bytes) -> bool:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0 and fds.still_ours(self._fd, self._ident):
                os.close(self._fd)
            self._fd = -1


def read_events(folder: str) -> list[dict[str, Any]]:
    """All complete records; a torn last line (the target died mid-write) is skipped."""
    path = os.path.join(folder, EVENTS_FILE)
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return out
