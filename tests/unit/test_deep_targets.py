"""Target resolution for ``--deep``: the code index, ``--lines`` names, hot functions from samples."""

from __future__ import annotations

import textwrap

import pytest

from diagkit.deep.codeindex import containing, index_file
from diagkit.deep.targets import hot_targets, resolve, user_own_seconds
from diagkit.model.report import FunctionTime, TimeSection

SOURCE = """
import numba
from numba import njit

class Model:
    def fit(self, x):
        def inner(v):
            return v * 2
        return [inner(v) for v in x]

@njit(cache=True)
def kernel(a):
    return a.sum()

@numba.jit
def other(a):
    return a

def fit_all(models):
    return [m.fit([1]) for m in models]
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent(SOURCE))
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('resolution must not import packages')\n")
    (pkg / "est.py").write_text("def fit(x):\n    return x\n")
    (tmp_path / "main.py").write_text("def main():\n    pass\n")
    return tmp_path


def test_index_spans_qualnames_and_numba_decorators(project):
    infos = {i.qualname: i for i in index_file(str(project / "model.py"))}
    assert (infos["Model.fit"].first, infos["Model.fit"].last) == (6, 9)
    assert infos["Model.fit.<locals>.inner"].first == 7
    assert infos["kernel"].jitted and infos["other"].jitted
    assert not infos["Model.fit"].jitted and not infos["fit_all"].jitted
    # A line inside the nested function belongs to it, not to its parent.
    assert containing(str(project / "model.py"), "Model.fit.<locals>.inner", 8).first == 7
    assert containing(str(project / "model.py"), "fit", 9).qualname == "Model.fit"
    assert containing(str(project / "model.py"), "fit", 3) is None


def test_names_resolve_in_every_documented_form(project, monkeypatch):
    monkeypatch.chdir(project)
    main = str(project / "main.py")
    res = resolve(
        ["model.py:Model.fit", "pkg.est:fit", "main", "model:kernel", "model.py:fit"],
        "--lines",
        "script",
        main,
    )
    assert res.problems == []
    got = [(t.file.rsplit("/", 1)[-1], t.qualname, t.jitted) for t in res.targets]
    assert got == [
        ("model.py", "Model.fit", False),
        ("est.py", "fit", False),
        ("main.py", "main", False),
        ("model.py", "kernel", True),
        ("model.py", "Model.fit", False),  # a bare co_name finds the method
    ]


def test_names_that_do_not_resolve_say_what_is_closest(project, monkeypatch):
    monkeypatch.chdir(project)
    res = resolve(
        ["model.py:fitall", "modle:fit", "nofile.py:f", "mian"],
        "--lines",
        "script",
        str(project / "main.py"),
    )
    assert res.targets == []
    assert res.problems == [
        "--lines model.py:fitall: no function 'fitall' in model.py; closest: fit_all, fit",
        "--lines modle:fit: no module named 'modle'; closest: model",
        "--lines nofile.py:f: no such file nofile.py",
        "--lines mian: no function 'mian' in main.py; closest: main",
    ]


def test_hot_targets_rank_by_the_innermost_user_frame(project):
    model = str(project / "model.py")
    frames = [
        {"name": "<module>", "file": model, "line": 20},
        {"name": "fit_all", "file": model, "line": 20},
        {"name": "Model.fit", "file": model, "line": 9},
        {
            "name": "ones",
            "file": "/usr/lib/python3/site-packages/numpy/_core/numeric.py",
            "line": 1,
        },
    ]
    # 90 samples inside numpy called from Model.fit, 10 in fit_all's own line.
    samples = [[0, 1, 2, 3]] * 90 + [[0, 1]] * 10
    speedscope = {"shared": {"frames": frames}, "profiles": [{"samples": samples}]}
    assert user_own_seconds(speedscope)[("Model.fit", model)] == 90  # no weights: 1 each
    funcs = [
        FunctionTime("fit_all", model, 20, 0, 100, 0.0, 1.0, 0.0, 1.0),
        FunctionTime("Model.fit", model, 9, 0, 90, 0.0, 0.9, 0.0, 0.9),
        FunctionTime("<module>", model, 20, 0, 100, 0.0, 1.0, 0.0, 1.0),
    ]
    time = TimeSection(functions=funcs, samples=100)
    picked = [t.qualname for t in hot_targets(time, speedscope)]
    assert picked == ["Model.fit", "fit_all"]
