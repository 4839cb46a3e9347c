"""A stand-in for nsys: a shell script that answers as nsys would for what a test needs."""

from __future__ import annotations

import stat
from pathlib import Path


def fake_nsys(tmp_path: Path, body: str) -> str:
    """Write ``TMP/bin/nsys`` running ``body`` under /bin/sh; its path."""
    path = tmp_path / "bin" / "nsys"
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)
