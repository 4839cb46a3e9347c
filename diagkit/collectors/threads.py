"""diag's helper threads, started where the OS may refuse them.

Under a tight address-space limit (``ulimit -v``) each new thread needs room for its stack
(8 MiB by default) and Python raises ``RuntimeError: can't start new thread``. Every thread
diag starts only overlaps or watches work, so each caller has a way to do without one, and
a refusal becomes that way plus a note, never a traceback. Standard library only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

REFUSED = "the system refused diag a thread (a memory limit such as ulimit -v?)"


def start_daemon(target: Callable[..., Any], name: str, *args: Any) -> threading.Thread | None:
    """The started thread, or None when the system would not start one."""
    thread = threading.Thread(target=target, name=name, args=args, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        return None
    return thread
