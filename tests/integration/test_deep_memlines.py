"""``--deep``'s per-line RSS in a fresh interpreter: each increment lands on the line that allocates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

MEMORY = """
def grow():
    keep = bytearray(64 << 20)
    parts = [bytearray(1 << 20) for _ in range(8)]
    del keep
    return len(parts)
"""


def test_rss_increments_land_on_the_line_that_allocates(tmp_path):
    # RSS increments depend on what the process's allocator already holds, so the
    # measurement runs in a fresh interpreter rather than in the test runner's.
    path = str(tmp_path / "mem.py")
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            f"""
            import json, textwrap
            from diagkit.deep.codepatch import CodePatcher
            from diagkit.deep.memlines import MemoryLines
            mem = MemoryLines()
            def swap(code, key):
                mem.add(code)
                return code
            patcher = CodePatcher([({path!r}, 2, "grow")], swap)
            patcher.install()
            try:
                code = compile({MEMORY!r}, {path!r}, "exec")
            finally:
                patcher.uninstall()
            namespace = {{}}
            exec(code, namespace)
            mem.enable()
            try:
                namespace["grow"]()
            finally:
                mem.disable()
            (table,) = mem.stats.values()
            print(json.dumps({{line: [rec[0], rec[2]] for line, rec in table.items()}}))
            """
        )
    )
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, check=True)
    table = {int(k): v for k, v in json.loads(out.stdout).items()}
    inc = {line: rec[0] for line, rec in table.items()}
    assert inc[3] == pytest.approx(64 << 20, rel=0.1)  # bytearray() zero-fills every page
    # The comprehension's 8 MiB land on its line: memory_profiler gives such lines negative numbers.
    assert inc[4] == pytest.approx(8 << 20, rel=0.25)
    assert inc[5] < -(32 << 20)  # del gives the 64 MiB back
    # Each line runs once; from 3.12 the comprehension is inlined (PEP 709) and its line is
    # hit once per item as well.
    inlined = {4} if sys.version_info >= (3, 12) else set()
    assert all(rec[1] == 1 for line, rec in table.items() if line not in inlined)
