"""Where diag's own frames end and the program's begin, in any stack (sampled or dumped).

A process started by ``diag profile`` runs runpy (``python -m``) -> the bootstrap
-> ``run_program`` -> the program (directly, or through runpy for ``-m``). Its
main thread's stacks are cut at ``run_program``; a stack of the bootstrap that
never reached it is diag's own start-up or exit work. ``py-spy --subprocesses``
puts a ``process N:"command"`` frame per process above each stack: the process is
a grouping (the profile's name says it), never a function. The bootstrap's signal
handler (``_on_sigterm`` -> ``_Run.finish``) runs on top of whatever line the program
was on: a stack is cut below it, so the sample counts for that line, not for diag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from diagkit._paths import TARGET_DIR, is_own_file, is_target_file

_PROCESS_FRAME = re.compile(r"process \d+:")
BOOTSTRAP_FILE = os.path.join(TARGET_DIR, "bootstrap.py")
# A process profiling itself (``diagkit.profile``) runs diag's start and stop of the window.
SELF_PROFILE_FILE = os.path.join(os.path.dirname(TARGET_DIR), "inside", "self_profile.py")


def is_bootstrap(file: str) -> bool:
    return is_target_file(file)


def is_diagkit(file: str) -> bool:
    return is_own_file(file)


def is_runpy(file: str) -> bool:
    return file.endswith(("runpy.py", "<frozen runpy>"))


def is_process_frame(name: str, file: str) -> bool:
    return not file and bool(_PROCESS_FRAME.match(name))


def is_native(file: str) -> bool:
    # py-spy --native names a shared object or nothing; Python frames are .py or <frozen ...>.
    return not file.endswith(".py") and not file.startswith("<")


def program_start(frames: Sequence[tuple[str, str]]) -> int | None:
    """``frames``: (function, file), root first. The index of the program's outermost
    frame (``len(frames)`` when the program has none yet), or None for a stack that is
    diag's own work."""
    first = 0
    while first < len(frames) and is_process_frame(*frames[first]):
        first += 1
    i, booted, through_runpy = first, False, False
    while i < len(frames):
        name, file = frames[i]
        if is_bootstrap(file):
            booted = True
            if name == "run_program":
                i += 1
                # What run_program calls on its way to the program: runpy for -m, exec.
                while i < len(frames) and (is_runpy(frames[i][1]) or is_native(frames[i][1])):
                    i += 1
                return i
        elif is_runpy(file):
            through_runpy = True
        elif not is_native(file):
            break
        i += 1
    if booted:
        return None  # the bootstrap before or after the program: starting, or flushing at exit
    if any(file == SELF_PROFILE_FILE for _, file in frames[i:]):
        return None  # a process profiling itself, in diag's start or stop of the window
    if i < len(frames) and is_diagkit(frames[i][1]):
        return None  # an in-process collector's own work (its atexit flush)
    # ``python -m`` without diag: runpy's frames are the interpreter's, not the program's.
    return i if through_runpy else first


def program_end(frames: Sequence[tuple[str, str]], start: int) -> int:
    """Where the program's part of a stack that starts at ``start`` ends: below the first
    frame of the bootstrap's own module above it (a handler diag installed, interrupting
    the program). diag's hooks elsewhere in ``target/`` run the program's own work under
    them (an import's module, a logging handler, Numba's compiler): see ``is_hook``."""
    for i in range(start, len(frames)):
        if frames[i][1] == BOOTSTRAP_FILE:
            return i
    return len(frames)


def is_hook(file: str) -> bool:
    """A frame of diag's in-program hooks (the import hook, the logging and Numba wrappers),
    which the program's own frames run under: left out of a stack, never cutting it."""
    return is_target_file(file) and file != BOOTSTRAP_FILE
