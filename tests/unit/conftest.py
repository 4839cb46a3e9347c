"""Unit tests start no processes: whatever starts one belongs in tests/integration.

Every way the standard library has to start a process (subprocess, multiprocessing,
os.fork, os.system, pty, os.exec*) fails the test that tries it, so a unit test that
quietly starts one is moved rather than left to slow the fast pass.
"""

from __future__ import annotations

import _posixsubprocess
import os
import subprocess

import pytest

_OS = ["fork", "forkpty", "system", "posix_spawn", "posix_spawnp"]
_OS += ["execv", "execve", "execvp", "execvpe"]


class ProcessStarted(AssertionError):
    pass


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise ProcessStarted(
            f"a unit test started a process ({what}); tests that start processes go in tests/integration"
        )

    return refuse


@pytest.fixture(autouse=True)
def _no_processes(monkeypatch):
    monkeypatch.setattr(_posixsubprocess, "fork_exec", _refuse("fork_exec"))
    if getattr(subprocess, "_fork_exec", None) is not None:
        monkeypatch.setattr(subprocess, "_fork_exec", _refuse("subprocess"))
    for name in _OS:
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse(f"os.{name}"))
