"""The in-process side's only way out: JSON lines appended to a file in the run's channel folder.

Every record is written and flushed at once, so a target that segfaults or is
SIGKILLed still leaves what it recorded up to that moment.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

EVENTS_FILE = "events.jsonl"


class Channel:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        # Line-buffered text file: one write() per record, flushed at each newline.
        self._fh = open(os.path.join(folder, EVENTS_FILE), "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields.setdefault("t", time.monotonic_ns())
        line = json.dumps(fields, default=repr)
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._fh.close()


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
