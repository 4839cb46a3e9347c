"""Numba compiles and imports shown as what they are, on speedscope documents built the way
diag's sampler writes them, for stacks whose right answer is known."""

from __future__ import annotations

import os
import sysconfig

import pytest

from diagkit.collectors import import_fold
from diagkit.collectors.compile_fold import fold_for_flame, fold_for_tables
from diagkit.collectors.flame_tree import flame_tree
from diagkit.collectors.sampled_time import time_section
from diagkit.model.report import JitCompile

PROG = "/home/u/est/fit.py"
NUMBA = f"{sysconfig.get_paths()['purelib']}/numba/core/dispatcher.py"
LLVM = f"{sysconfig.get_paths()['purelib']}/llvmlite/binding/ffi.py"
SITE = sysconfig.get_paths()["purelib"]
BOOT = "<frozen importlib._bootstrap>"


def _doc(stacks: list[tuple[list[tuple[str, str, int]], float]]) -> dict:
    """One thread's samples: (frames root first, seconds)."""
    frames: list[dict] = []
    index: dict[tuple[str, str, int], int] = {}
    samples = []
    for stack, _ in stacks:
        ids = []
        for fr in [("thread (1): MainThread", "", 0), *stack]:
            if fr not in index:
                index[fr] = len(frames)
                frames.append({"name": fr[0], "file": fr[1], "line": fr[2]})
            ids.append(index[fr])
        samples.append(ids)
    weights = [w for _, w in stacks]
    prof = {
        "type": "sampled",
        "name": 'Thread 1 "MainThread"',
        "unit": "seconds",
        "startValue": 0,
        "endValue": sum(weights),
        "samples": samples,
        "weights": weights,
        "slots": [round(w * 250) for w in weights],
    }
    return {"shared": {"frames": frames}, "profiles": [prof]}


MAIN = ("<module>", PROG, 50)
COMPILING = [
    MAIN,
    ("first_call", PROG, 30),
    ("Dispatcher._compile_for_args", NUMBA, 420),
    ("_lib_fn_wrapper.__call__", LLVM, 197),
]
RUNNING = [MAIN, ("steady", PROG, 35)]
RECORD = JitCompile("__main__:kernel", "(array(float64, 1d, C),)", 0.1, 0.3, 0.4, True, PROG, 30)


def test_samples_inside_a_compile_become_one_row_named_for_it():
    doc = _doc([(COMPILING, 0.6), (RUNNING, 0.4)])
    raw = {f.name: f for f in time_section(doc, rate=250, sampled_s=1.0, source="t").functions}
    assert raw["_lib_fn_wrapper.__call__"].own_share == pytest.approx(0.6)  # what a user saw
    sec = time_section(fold_for_tables(doc, [RECORD]), rate=250, sampled_s=1.0, source="t")
    funcs = {f.name: f for f in sec.functions}
    row = funcs["[numba compile] __main__:kernel (array(float64, 1d, C),)"]
    assert row.own_share == pytest.approx(0.6) and row.kind == "python"
    assert not any(f.file in (NUMBA, LLVM) for f in sec.functions)
    # The line that triggered the compile holds its time among the hot lines.
    lines = {(ln.function, ln.line): ln for ln in sec.lines}
    assert lines["first_call", 30].own_share == pytest.approx(0.6)


def test_the_flame_graph_keeps_the_compiler_under_the_compile():
    doc = fold_for_flame(_doc([(COMPILING, 0.6), (RUNNING, 0.4)]), [RECORD])
    tree = flame_tree(doc)
    names = [tree.functions[i].name for i in tree.func]
    assert "[numba compile] __main__:kernel (array(float64, 1d, C),)" in names
    assert "_lib_fn_wrapper.__call__" in names  # there, one level down, to open up
    (stack,) = [s for s in doc["profiles"][0]["samples"] if len(s) > 3]
    frames = doc["shared"]["frames"]
    assert [frames[i]["name"] for i in stack][2:5] == [
        "first_call",
        "[numba compile] __main__:kernel (array(float64, 1d, C),)",
        "Dispatcher._compile_for_args",
    ]


def test_many_signatures_from_one_line_are_counted_and_unrecorded_compiles_still_fold():
    again = [
        JitCompile("m:f", sig, 0.0, 0.1, 0.1, True, PROG, 30) for sig in ("(int64,)", "(float64,)")
    ]
    doc = fold_for_tables(_doc([(COMPILING, 1.0)]), again)
    assert "[numba compile] m:f (2 signatures)" in [f["name"] for f in doc["shared"]["frames"]]
    # Without numba's events (attached by pid): the dispatcher's compile entry still tells.
    blind = fold_for_tables(_doc([(COMPILING, 1.0)]), [])
    assert "[numba compile or cache load]" in [f["name"] for f in blind["shared"]["frames"]]
    # Numba's Python code running outside a compile (a typed List) is left as it is.
    typed = [MAIN, ("append", f"{SITE}/numba/typed/typedlist.py", 340)]
    assert fold_for_tables(_doc([(typed, 1.0)]), [RECORD]) == _doc([(typed, 1.0)])


def _imp(*mods: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = [MAIN]
    for m in mods:
        path = os.path.join(SITE, *m.split(".")) + ("/__init__.py" if "." not in m else ".py")
        out += [("_find_and_load", BOOT, 1176), ("_call_with_frames_removed", BOOT, 241)]
        out += [("<module>", path, 1)]
    return out


def test_imports_become_one_row_per_top_level_module_and_add_up_by_module():
    doc = _doc(
        [
            (_imp("polars"), 0.2),
            (_imp("polars", "polars.io"), 0.5),
            (_imp("scipy"), 0.1),
            (RUNNING, 0.2),
        ]
    )
    sec = time_section(import_fold.fold_for_tables(doc), rate=250, sampled_s=1.0, source="t")
    funcs = {f.name: f for f in sec.functions}
    assert funcs["[import] polars"].own_share == pytest.approx(0.7)
    assert funcs["[import] scipy"].own_share == pytest.approx(0.1)
    assert not any(f.file == BOOT for f in sec.functions)
    imp = import_fold.imports_section(doc, 250)
    assert imp.total_s == pytest.approx(0.8) and imp.share == pytest.approx(0.8)
    (polars, scipy) = imp.modules
    assert (polars.name, scipy.name) == ("polars", "scipy")
    assert polars.seconds == pytest.approx(0.7) and polars.share == pytest.approx(0.7)
    assert [(s.name, round(s.seconds, 6)) for s in polars.slowest] == [("polars.io", 0.5)]


def test_module_names_come_from_where_the_file_is_installed():
    assert import_fold.module_name(f"{SITE}/polars/io/csv.py") == "polars.io.csv"
    assert import_fold.module_name(f"{SITE}/polars/__init__.py") == "polars"
    stdlib = sysconfig.get_paths()["stdlib"]
    assert import_fold.module_name(f"{stdlib}/json/decoder.py") == "json.decoder"
    assert import_fold.module_name("/home/u/est/helpers.py") == "helpers"


def test_the_users_own_package_is_named_from_its_folders(tmp_path):
    pkg = tmp_path / "proj" / "est"
    (pkg / "sub").mkdir(parents=True)
    for f in ("__init__.py", "aggte.py", "sub/__init__.py", "sub/boot.py"):
        (pkg / f).write_text("")
    assert import_fold.module_name(str(pkg / "__init__.py")) == "est"
    assert import_fold.module_name(str(pkg / "aggte.py")) == "est.aggte"
    assert import_fold.module_name(str(pkg / "sub" / "boot.py")) == "est.sub.boot"


def test_a_stack_cut_short_inside_the_compiler_is_compile_time():
    """A nonblocking read that raced a change can keep only the innermost frames."""
    cut = [("BaseRegistryLoader.new_registrations", NUMBA, 1323)]
    doc = fold_for_tables(_doc([(COMPILING, 0.5), (cut, 0.1), (RUNNING, 0.4)]), [RECORD])
    sec = time_section(doc, rate=250, sampled_s=1.0, source="t")
    names = {f.name: f for f in sec.functions}
    assert "BaseRegistryLoader.new_registrations" not in names
    assert names["[numba compile or cache load]"].own_share == pytest.approx(0.1)
