"""Descriptors diag keeps open inside the program, kept out of the program's way.

The kernel hands out the lowest free number, so a descriptor of ours at 0-2 would
be the program's stdio (when diag was started with one closed) and one at a low
number is the first to be reused after the program closes descriptors it did
not open. Ours are moved high; and since a program may still close them, every
use is checked against the file it was opened on.
"""

from __future__ import annotations

import fcntl
import os
import resource

# Below the usual soft limit of 1024: a floor near a limit of a million would make the
# kernel grow the process's descriptor table to that size.
_HIGH = 1024 - 32


def move_high(fd: int) -> int:
    """``fd`` under a high number (close-on-exec); the low one is closed."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    floor = _HIGH if soft == resource.RLIM_INFINITY else max(3, min(_HIGH, soft - 32))
    for low in (floor, 3):
        if low <= fd:
            return fd
        try:
            return dup_above(fd, low)
        except OSError:
            continue
    return fd


def dup_above(fd: int, low: int) -> int:
    """``fd`` under the lowest free number from ``low`` up (close-on-exec); the old one closed."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return new


def identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def still_ours(fd: int, ident: tuple[int, int]) -> bool:
    """Whether ``fd`` is still open on the file it was opened on (~0.5 µs)."""
    try:
        return identity(fd) == ident
    except OSError:
        return False
