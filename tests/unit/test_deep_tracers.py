"""The in-process side of ``--deep``, with the real tracers in this process: code swapped at
compile and import time is traced from its first call, and per-line RSS adds up."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import pytest
from line_profiler import LineProfiler

from diagkit.deep.codepatch import CodePatcher
from diagkit.deep.tracers import _Holder

SCRIPT = """
def once(n):
    s = 0
    for i in range(n):
        s += i
    return s

class K:
    def twice(self):
        return 1

result = once(1000) + K().twice() + K().twice()
"""


def _swapper(lp):
    def swap(code, key):
        holder = _Holder(code)
        lp.add_function(holder)
        return holder.__code__

    return swap


def _hits(lp, name):
    for (_, _, qualname), rows in lp.get_stats().timings.items():
        if qualname == name:
            return {ln: hits for ln, hits, _ in rows}
    return {}


def test_functions_of_a_compiled_script_are_traced_from_their_first_call(tmp_path):
    path = str(tmp_path / "script.py")
    lp = LineProfiler()
    patcher = CodePatcher([(path, 2, "once"), (path, 9, "K.twice")], _swapper(lp))
    patcher.install()
    try:
        code = compile(textwrap.dedent(SCRIPT), path, "exec")
    finally:
        patcher.uninstall()
    namespace: dict = {}
    lp.enable()
    try:
        exec(code, namespace)
    finally:
        lp.disable()
    assert namespace["result"] == 499_502
    # `once` runs a single time: a hook waiting for the first call would have missed all of it.
    assert _hits(lp, "once") == {3: 1, 4: 1001, 5: 1000, 6: 1}
    assert _hits(lp, "K.twice") == {10: 2}
    assert patcher.seen == {(path, 2, "once"), (path, 9, "K.twice")}


def test_imported_modules_are_swapped_by_the_import_system(tmp_path, monkeypatch):
    (tmp_path / "deep_mod_under_test.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = str((tmp_path / "deep_mod_under_test.py").resolve())
    lp = LineProfiler()
    patcher = CodePatcher([(path, 2, "once")], _swapper(lp))
    patcher.install()
    lp.enable()
    try:
        mod = importlib.import_module("deep_mod_under_test")
        mod.once(10)
    finally:
        lp.disable()
        patcher.uninstall()
        sys.modules.pop("deep_mod_under_test", None)
    assert _hits(lp, "once")[5] == 1000 + 10


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
