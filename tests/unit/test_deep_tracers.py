"""The in-process side of ``--deep``, with the real tracers in this process: code swapped at
compile and import time is traced from its first call."""

from __future__ import annotations

import importlib
import sys
import textwrap

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
