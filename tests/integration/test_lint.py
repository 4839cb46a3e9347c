"""ruff's lint and format rules and mypy's type checks hold for the tree.

The tools run as ``python -m TOOL`` with the interpreter running the tests, so a tool
installed in this environment (the dev extra) is found whether or not its script is on
PATH; where one is not installed the test skips and says so.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed for {sys.executable} (pip install -e '.[dev]')")
    version = subprocess.run([sys.executable, "-m", tool, "--version"], capture_output=True)
    if version.returncode != 0:
        pytest.skip(f"`{sys.executable} -m {tool} --version` failed: {version.stderr[-300:]!r}")
    return subprocess.run(
        [sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff(args):
    out = _run("ruff", *args)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]


def test_mypy():
    # The files, the Python version and the untyped modules come from pyproject.toml.
    out = _run("mypy")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-1000:]
