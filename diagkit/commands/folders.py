"""Report folders: named, created and proven writable before a run starts.

Standard library only: ``diag profile`` settles its folder before it loads the report model.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from diagkit.errors import DiagError


def default_out_dir(stem: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:40] or "run"
    base = Path("diag-reports") / f"{stamp}-{safe}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def prepare_out_dir(path: Path) -> Path:
    """Create the folder and prove it is writable now, not after a long run."""
    if path.exists() and not path.is_dir():
        raise DiagError(f"--out {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".diag-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DiagError(f"--out {path}: cannot write there ({exc.strerror or exc})") from None
    return path
