"""Where diagkit's own files are, named once.

Modules that find a file of the package by walking up from their own ``__file__`` break
silently when they move; they ask here instead. Standard library only: the bootstrap
imports this inside the program.
"""

import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# What runs inside the program: the bootstrap, the channel, the in-process collectors.
TARGET_DIR = os.path.join(PACKAGE_DIR, "target")
# The program's first file, started by path (see its docstring for why not with -m).
BOOTSTRAP_MAIN = os.path.join(TARGET_DIR, "bootstrap_main.py")
HTML_ASSETS = os.path.join(PACKAGE_DIR, "render", "html", "assets")


def is_own_file(path: str) -> bool:
    """A file of this copy of diagkit (its frames are never the program's)."""
    return path.startswith(PACKAGE_DIR + os.sep)


def is_target_file(path: str) -> bool:
    """A file of the code diagkit runs inside the program before and after the program's own."""
    return path.startswith(TARGET_DIR + os.sep)


def real_path(path: str) -> str:
    """``path`` with its links resolved, so that two names of one file compare equal; the
    names compile() gives code that has no file (``<string>``, ``<frozen os>``) stay."""
    return os.path.realpath(path) if path and not path.startswith("<") else path
