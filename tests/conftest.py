"""Shared helpers: run the real ``diag`` CLI in a subprocess and load what it wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from diagkit.model.report import Report

ROOT = Path(__file__).resolve().parents[1]

# A suite started in the background of a shell script inherits SIGINT ignored, and so would
# every diag it starts: the tests that stop diag with SIGINT, as a Ctrl-C does, need it heard.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class DiagRun:
    returncode: int
    stdout: str
    stderr: str
    out_dir: Path

    @property
    def report(self) -> Report:
        return Report.from_json((self.out_dir / "report.json").read_text())

    @property
    def raw(self) -> dict:
        return json.loads((self.out_dir / "report.json").read_text())


def run_diag(
    args: list[str],
    *,
    cwd: Path,
    out: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> DiagRun:
    """``diag ARGS``; for ``profile`` an ``--out`` in the test's folder is added."""
    out = out or cwd / "report"
    if args and args[0] == "profile":
        args = ["profile", "--out", str(out), *args[1:]]
    cmd = [sys.executable, "-m", "diagkit.cli", *args]
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return DiagRun(proc.returncode, proc.stdout, proc.stderr, out)


@pytest.fixture
def script(tmp_path: Path):
    """Write a target script into the test's folder: ``script("name.py", code)`` -> path."""

    def make(name: str, code: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(code))
        return path

    return make
