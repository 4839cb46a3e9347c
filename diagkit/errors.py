"""diag's exit statuses, and the errors a command raises for what the user got wrong or the
system refused.

Each kind of failure is a class that carries its exit status: the status follows from what
went wrong, never from the wording of the message.
"""

from __future__ import annotations

import signal
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Every exit status diag chooses itself, as docs/guide.md ("What diag promises") lists them.

    A program's own status, and 128+N for the signal N that killed it, are passed on as
    they are: those are the program's, not diag's.
    """

    OK = 0
    FAILED = 1  # diag diff --fail-above exceeded, or a compared run did not finish
    USAGE = 2  # a usage error, a bad or damaged input file, a refusal found before the run
    GONE = 3  # no such process, a zombie, not Python, exited during the work
    REFUSED = 4  # the kernel would not let diag read the process
    BUSY = 5  # diag may read it, but another tracer (gdb, a second py-spy) held it each time
    TIMEOUT = 124  # --timeout stopped the program (the status timeout(1) gives)
    SIGHUP = 128 + signal.SIGHUP  # diag received SIGHUP (a closed terminal)
    SIGINT = 128 + signal.SIGINT  # Ctrl-C: diag stopped the program, or a dump was cut short
    SIGTERM = 128 + signal.SIGTERM  # diag received SIGTERM (a batch scheduler's time limit)

    @classmethod
    def told_to_stop(cls, signum: int) -> ExitCode:
        """diag's status once told to stop by ``signum`` (SIGINT, SIGTERM or SIGHUP)."""
        return cls(128 + signum)


class DiagError(Exception):
    """A user-facing failure: ``main()`` prints ``diag: error: <message>`` and exits with ``exit_code``.

    The class says what kind of failure it is and so which status it exits with; an
    ``exit_code`` given here is for a status no class knows, such as the program's own.
    """

    code: ClassVar[ExitCode] = ExitCode.USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code: int = self.code if exit_code is None else exit_code


class UsageError(DiagError):
    """What was asked cannot be done as asked: an option, a name, a value."""


class BadTarget(UsageError):
    """The program named cannot be started: no such script or module."""


class TargetGone(DiagError):
    """The process to read is not there to read: no such pid, a zombie, exited meanwhile."""

    code = ExitCode.GONE


class NotPython(TargetGone):
    """The process runs no Python interpreter, so it has no Python stacks."""


class TargetRefused(DiagError):
    """The kernel will not let diag read the process (ptrace is refused)."""

    code = ExitCode.REFUSED


class TargetBusy(DiagError):
    """diag may read the process, but another tracer held it at every try."""

    code = ExitCode.BUSY
