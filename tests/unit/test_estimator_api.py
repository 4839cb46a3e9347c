"""The estimator's public names are R did's (and moderndid's), and it stands without diagkit:
its warnings are its own classes, and importing or running it needs no diagkit module."""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import diagkit
import estimator_core as ec
from estimator_core.diagnostics import check_finite, check_psd
from estimator_core.formula import covariate_names
from estimator_core.stats import norm_ppf
from tests.unit.test_estimator_mpdta import MPDTA, R_CELLS

PACKAGE = Path(ec.__file__).resolve().parent
COLS = ("y", "period", "id", "first_treat")

# R did's att_gt and aggte arguments that estimator_core implements, plus moderndid's
# random_state (R seeds with set.seed instead).
ATT_GT_ARGS = [
    "data",
    "yname",
    "tname",
    "idname",
    "gname",
    "xformla",
    "control_group",
    "est_method",
    "base_period",
    "anticipation",
    "bstrap",
    "biters",
    "alp",
    "cband",
    "random_state",
]
AGGTE_ARGS = [
    "MP",
    "type",
    "balance_e",
    "min_e",
    "max_e",
    "na_rm",
    "bstrap",
    "biters",
    "cband",
    "alp",
    "random_state",
]


def test_functions_take_r_argument_names():
    att_gt = list(inspect.signature(ec.att_gt).parameters)
    aggte = list(inspect.signature(ec.aggte).parameters)
    assert att_gt[: len(ATT_GT_ARGS)] == ATT_GT_ARGS
    assert aggte[: len(AGGTE_ARGS)] == AGGTE_ARGS
    # One name per concept: the earlier spellings are not accepted beside them.
    for old in ("covariates", "boot", "alpha", "seed", "result"):
        assert old not in att_gt and old not in aggte
    # aggte lives in the module named after it, as att_gt does (R's aggte.R, moderndid's aggte.py).
    assert ec.aggte.__module__ == "estimator_core.aggte"
    assert ec.att_gt.__module__ == "estimator_core.att_gt"


def test_called_as_r_documents_it_gives_rs_results():
    mpdta = ec.load_csv(MPDTA)
    fit = ec.att_gt(
        data=mpdta,
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        xformla="~1",
        control_group="nevertreated",
        est_method="dr",
        base_period="varying",
        bstrap=False,
        alp=0.05,
        backend="numpy",
    )
    assert isinstance(fit, ec.MPResult)
    ref = np.array(R_CELLS)
    np.testing.assert_array_equal(fit.group, ref[:, 0])
    np.testing.assert_array_equal(fit.t, ref[:, 1])
    np.testing.assert_array_equal(np.round(fit.att, 4), ref[:, 2])
    np.testing.assert_array_equal(np.round(fit.se, 4), ref[:, 3])
    assert fit.crit_val == pytest.approx(norm_ppf(0.975))
    assert fit.inffunc.shape == (500, 12) and fit.n == 500 and fit.alp == 0.05
    np.testing.assert_allclose(fit.vcov_analytical, fit.inffunc.T @ fit.inffunc / 500)
    np.testing.assert_allclose(fit.se, np.sqrt(np.diag(fit.vcov_analytical) / 500))
    assert round(fit.wald_pvalue, 5) == 0.16812 and fit.wald_stat == fit.wald.statistic
    assert not fit.bstrap and fit.random_state is None

    dyn = ec.aggte(MP=fit, type="dynamic")
    assert isinstance(dyn, ec.AGGTEResult)
    np.testing.assert_array_equal(dyn.egt, np.arange(-3, 4))
    np.testing.assert_array_equal(
        np.round(dyn.att_egt, 4), [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008]
    )
    assert round(dyn.overall_att, 4) == -0.0772 and round(dyn.overall_se, 4) == 0.0200
    assert dyn.crit_val_egt == pytest.approx(norm_ppf(0.975))
    np.testing.assert_allclose(dyn.se_egt, np.sqrt(np.sum(dyn.inf_function_egt**2, axis=0)) / 500)
    assert dyn.overall_se == pytest.approx(math.sqrt(np.sum(dyn.inf_function**2)) / 500)


def test_bootstrap_options_carry_r_names():
    sim = ec.simulate_panel(n_units=400, n_periods=4, seed=2)
    fit = ec.att_gt(sim.data, *COLS, bstrap=True, biters=200, alp=0.1, random_state=5)
    assert fit.bstrap and fit.random_state == 5 and fit.alp == 0.1 and fit.uniform_band
    agg = ec.aggte(fit, "group")
    assert agg.bstrap and agg.alp == 0.1 and agg.random_state == 6  # att_gt's plus one
    assert agg.crit_val_egt > norm_ppf(0.95)
    assert "[90% Simult.  Conf. Band]" in agg.summary()
    with pytest.raises(ValueError, match="alp must lie in"):
        ec.att_gt(sim.data, *COLS, alp=1.5)


@pytest.mark.parametrize(
    ("xformla", "names"),
    [
        (None, ()),
        ("~1", ()),
        ("~ x", ("x",)),
        (" ~ 1 + x1 + first.treat + x1", ("x1", "first.treat")),
        (["x1", "x2"], ("x1", "x2")),
        ((), ()),
    ],
)
def test_xformla_names_the_covariates(xformla, names):
    assert covariate_names(xformla) == names


@pytest.mark.parametrize(
    ("xformla", "match"),
    [
        ("x1 + x2", "one-sided formula"),
        ("y ~ x1", "one-sided formula"),
        ("~ x1 * x2", "only column names"),
        ("~ log(x1)", "only column names"),
        ("~ x1 - 1", "only column names"),
        ("~ x1 +", "only column names"),
        ("~ 0 + x1", "intercept cannot be removed"),
    ],
)
def test_xformla_refuses_what_it_would_misread(xformla, match):
    with pytest.raises(ValueError, match=match):
        covariate_names(xformla)


def test_warnings_are_estimator_cores_own_classes():
    assert ec.NumericWarning.__module__ == "estimator_core.errors"
    assert issubclass(ec.NumericWarning, RuntimeWarning)
    assert not issubclass(ec.NumericWarning, diagkit.NumericWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not check_psd("V", np.array([[1.0, 2.0], [2.0, 1.0]]))
        assert not check_finite("psi", np.array([1.0, np.nan, np.inf]))
        assert check_finite("psi", np.ones(3))
    assert [w.category for w in caught] == [ec.NumericWarning, ec.NumericWarning]
    assert str(caught[1].message) == "psi: 2 of 3 values are not finite"


def _diagkit_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, inside a function) for every import of a diagkit module in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                mods = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level:
                mods = [child.module or ""]
            else:
                mods = []
            if any(m == "diagkit" or m.startswith("diagkit.") for m in mods):
                found.append((child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def test_import_graph_has_no_diagkit_edge():
    """Statically: no module of estimator_core imports diagkit when it is imported; the one
    import is the optional stage integration's, at the first stage."""
    imports = {
        str(p.relative_to(PACKAGE)): found
        for p in sorted(PACKAGE.rglob("*.py"))
        if (found := _diagkit_imports(p))
    }
    assert list(imports) == ["stages.py"], imports
    assert all(in_function for _, in_function in imports["stages.py"])


@pytest.fixture
def fresh_modules():
    """Lets a test import estimator_core (and diagkit) anew; puts the loaded ones back after."""

    def ours(name: str) -> bool:
        return name.split(".")[0] in ("estimator_core", "diagkit")

    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    for k in saved:
        del sys.modules[k]
    yield lambda: sorted(k for k, v in sys.modules.items() if k.startswith("diagkit") and v)
    for k in [k for k in sys.modules if ours(k)]:
        del sys.modules[k]
    sys.modules.update(saved)


def test_importing_the_estimator_loads_no_diagkit(fresh_modules):
    fresh = importlib.import_module("estimator_core")
    assert fresh is not ec and fresh_modules() == []
    # The first stage brings diagkit's ranges in, where diagkit is installed.
    sim = fresh.simulate_panel(n_units=200, n_periods=4, seed=0)
    fresh.att_gt(sim.data, *COLS, bstrap=False, backend="numpy")
    assert "diagkit" in fresh_modules()


def test_the_estimator_runs_where_diagkit_is_not_installed(fresh_modules):
    sys.modules["diagkit"] = None  # what an environment without diagkit gives `import diagkit`
    fresh = importlib.import_module("estimator_core")
    sim = fresh.simulate_panel(n_units=300, n_periods=4, seed=1)
    fit = fresh.att_gt(sim.data, *COLS, biters=50, random_state=1, backend="numpy")
    agg = fresh.aggte(fit, "dynamic")
    with pytest.warns(fresh.NumericWarning, match="not positive semi-definite"):
        importlib.import_module("estimator_core.diagnostics").check_psd("V", -np.eye(2))
    assert fresh_modules() == []
    ref = ec.att_gt(sim.data, *COLS, biters=50, random_state=1, backend="numpy")
    np.testing.assert_array_equal(fit.se, ref.se)
    assert agg.overall_att == ec.aggte(ref, "dynamic").overall_att
