"""Where a process started by ``diag profile`` writes its stacks when asked by signal.

py-spy needs ptrace-level access; a process we started also registers
faulthandler on SIGUSR2 so that its Python stacks can be had without it. The
path depends only on the uid and pid, so ``diag dump`` finds it from a pid alone.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

SIGNAL = signal.SIGUSR2


def runtime_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"diagkit-{os.getuid()}"


def path_for(pid: int) -> Path:
    return runtime_dir() / f"stacks-{pid}.txt"
