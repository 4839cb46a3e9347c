"""The one error type a command raises for anything the user got wrong or the system refused."""

from __future__ import annotations


class DiagError(Exception):
    """A user-facing failure: ``main()`` prints ``diag: error: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
