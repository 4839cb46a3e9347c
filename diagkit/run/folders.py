"""Report folders: named, created, held and proven writable before a run starts.

Standard library only: ``diag profile`` settles its folder before it loads the report model.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
from datetime import datetime
from itertools import count
from pathlib import Path

from diagkit.errors import DiagError

# Folders this process made, parents first. Those still empty at exit are removed, so a run
# refused after its folder was made (a bad --pid, a missing nsys) leaves nothing behind,
# while a folder that existed before is never touched.
_created: list[Path] = []


def why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def default_out_dir(stem: str) -> Path:
    """Make a fresh diag-reports/<time>-<stem> folder; a suffix when another run took the name.

    The folder is created here, with mkdir's own exclusivity, because two runs started in
    the same second would otherwise both see the name free and share one folder.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:40] or "run"
    base = Path("diag-reports") / f"{stamp}-{safe}"
    try:
        _make(base.parent)
        for n in count(1):
            out = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                out.mkdir()
            except FileExistsError:
                continue
            _remember(out)
            return out
    except OSError as exc:
        raise DiagError(
            f"{base.parent}: cannot create a report folder there ({why(exc)})"
        ) from None
    raise AssertionError("unreachable")


def prepare_out_dir(path: Path, name: str = "--out ") -> Path:
    """Create the folder, hold it against a second diag, and prove it is writable now,
    not after a long run."""
    try:
        if path.exists() and not path.is_dir():
            raise DiagError(f"{name}{path}: exists and is not a directory")
        _make(path)
        _hold(path)
        probe = path / ".diag-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DiagError(f"{name}{path}: cannot write there ({why(exc)})") from None
    return path


def _make(path: Path) -> None:
    """mkdir -p, remembering which of the folders this run made."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # made meanwhile by a concurrent run: not ours to remove
        _remember(folder)


def _remember(folder: Path) -> None:
    if not _created:
        atexit.register(_remove_empty_created)
    _created.append(folder)


def _remove_empty_created() -> None:
    for folder in reversed(_created):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds on an empty folder


def _hold(path: Path) -> None:
    """Refuse a folder that another diag is writing into right now.

    A lock on the directory itself leaves no file behind, and dies with the process,
    so a crashed or SIGKILLed diag never blocks the next run.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DiagError(
            f"--out {path}: another diag is writing its report there now; "
            "give another --out, or wait until that run ends"
        ) from None
    except OSError:
        os.close(fd)  # a file system without flock: no guard there, the run goes on
        return
    # fd stays open, unreferenced, until diag exits: the kernel then releases the lock.
