"""Where a process started by ``diag profile`` writes its stacks when asked by signal.

py-spy needs ptrace-level access; a process we started also registers
faulthandler on SIGUSR2 so that its Python stacks can be had without it. The
path depends only on the uid and pid, so ``diag dump`` finds it from a pid alone.

That makes the folder's name predictable: another user can create it first and
fill it with links. So the folder is used only when it is a real directory owned
by us with no access for anyone else, files in it are opened relative to the
verified folder, never through a link, and a new file is created exclusively.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

SIGNAL = signal.SIGUSR2
# The first line of a stack file: the descriptor faulthandler writes through, so that a
# reader can check it still names this file before sending the signal.
_HEADER = b"diagkit stack file, written through fd %d\n"


class UnsafeStackFile(Exception):
    """The folder or file is not private to us: it is neither read nor written."""


def runtime_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"diagkit-{os.getuid()}"


def path_for(pid: int) -> Path:
    return runtime_dir() / _name(pid)


def _name(pid: int) -> str:
    return f"stacks-{pid}.txt"


def _open_dir(*, create: bool) -> int:
    path = runtime_dir()
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeStackFile(f"{path} is not a directory of its own (a link?)") from None
        raise
    st = os.fstat(fd)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        os.close(fd)
        raise UnsafeStackFile(
            f"{path} is not private (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}; "
            f"it must be uid {os.getuid()}'s alone, mode 700)"
        )
    return fd


def create(pid: int) -> int:
    """A new, empty stack file for ``pid`` (mode 600); its descriptor."""
    folder = _open_dir(create=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            return os.open(_name(pid), flags, 0o600, dir_fd=folder)
        except FileExistsError:
            # Left by a process of ours that died without cleaning up, whose pid this one has.
            os.unlink(_name(pid), dir_fd=folder)
            return os.open(_name(pid), flags, 0o600, dir_fd=folder)
    finally:
        os.close(folder)


def write_header(fd: int) -> None:
    os.write(fd, _HEADER % fd)


def remove(pid: int, ident: tuple[int, int]) -> None:
    """Unlink ``pid``'s stack file if it is still the one with ``ident`` (st_dev, st_ino)."""
    try:
        folder = _open_dir(create=False)
    except (OSError, UnsafeStackFile):
        return
    try:
        st = os.stat(_name(pid), dir_fd=folder, follow_symlinks=False)
        if (st.st_dev, st.st_ino) == ident:
            os.unlink(_name(pid), dir_fd=folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def open_for_reading(pid: int) -> BinaryIO | None:
    """``pid``'s stack file, or None when there is none; UnsafeStackFile when it is not ours."""
    try:
        folder = _open_dir(create=False)
    except FileNotFoundError:
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(_name(pid), flags, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeStackFile(f"{path_for(pid)} is a link") from None
        raise
    finally:
        os.close(folder)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        os.close(fd)
        raise UnsafeStackFile(f"{path_for(pid)} is not a private file of uid {os.getuid()}")
    return os.fdopen(fd, "rb")


def written_by(pid: int, fh: BinaryIO) -> bool:
    """Whether the descriptor ``pid`` dumps its stacks through still names this file.

    The program may have closed it and opened one of its own files under the same
    number; the signal would then write into that file. Where the kernel shows what
    the descriptor names (ptrace rights), that is compared; without them (where this
    fallback is needed) only the numbers are visible, and an open descriptor of that
    number is trusted: it was placed far above the numbers a program is given.
    """
    fh.seek(0)
    first = fh.readline()
    try:
        fd = int(first.rsplit(b" ", 1)[1]) if first.startswith(_HEADER[:20]) else -1
        if str(fd) not in os.listdir(f"/proc/{pid}/fd"):
            return False
        there = os.stat(f"/proc/{pid}/fd/{fd}")
    except PermissionError:
        return True
    except (IndexError, ValueError, OSError):
        return False
    here = os.fstat(fh.fileno())
    return (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)
