"""Group-time average treatment effects (Callaway and Sant'Anna 2021), as R's ``did::att_gt``.

Arguments and result fields carry R did's names, dots written as underscores
(``yname``, ``xformla``, ``alp``, ``bstrap``, ``cband``; ``group``, ``t``, ``att``,
``se``, ``inffunc``). Where R's would not read as Python, its longer spelling
elsewhere or moderndid's is used: ``crit_val`` (R's ``crit.val``) for ``c``,
``vcov_analytical``, ``wald_stat`` and ``wald_pvalue`` for ``V_analytical``, ``W``
and ``Wpval``; moderndid's ``random_state`` where R has none; our own only for
what neither has (``backend``, ``boot_weights``).

Stages, each a named range (``estimator_core.stages``) so a profile shows where the time went:
``att_gt.prepare`` (validate, reshape, plan cells), ``att_gt.estimate`` (one
DR/IPW/OR fit per cell on the chosen backend), ``att_gt.inference`` (analytic
variance, pre-trend Wald test) and ``att_gt.bootstrap`` (multiplier bootstrap,
uniform band).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from estimator_core.backends.dispatch import get_backend
from estimator_core.bootstrap import ZERO_SE, multiplier_bootstrap, new_seed
from estimator_core.cells import plan_cells, restrict_sample
from estimator_core.diagnostics import check_finite, check_psd, report_cells, warn_small_groups
from estimator_core.errors import NumericWarning
from estimator_core.estimators import METHODS
from estimator_core.formula import covariate_names
from estimator_core.panel import prepare_panel
from estimator_core.results import MPResult, WaldTest
from estimator_core.rng import WEIGHTS
from estimator_core.stages import stage
from estimator_core.stats import chi2_sf, norm_ppf

CONTROL_GROUPS = ("nevertreated", "notyettreated")
BASE_PERIODS = ("varying", "universal")


def _check_options(
    control_group: str,
    est_method: str,
    base_period: str,
    anticipation: int,
    biters: int,
    alp: float,
    boot_weights: str,
) -> None:
    for value, allowed, name in (
        (control_group, CONTROL_GROUPS, "control_group"),
        (est_method, METHODS, "est_method"),
        (base_period, BASE_PERIODS, "base_period"),
        (boot_weights, tuple(WEIGHTS), "boot_weights"),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    if int(anticipation) != anticipation or anticipation < 0:
        raise ValueError(f"anticipation must be a non-negative integer, got {anticipation!r}")
    if not 0.0 < alp < 1.0:
        raise ValueError(f"alp must lie in (0, 1), got {alp!r}")
    if biters < 2:
        raise ValueError(f"biters must be at least 2, got {biters!r}")


def att_gt(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: str | Sequence[str] | None = None,
    control_group: str = "nevertreated",
    est_method: str = "dr",
    base_period: str = "varying",
    anticipation: int = 0,
    bstrap: bool = True,
    biters: int = 1000,
    alp: float = 0.05,
    cband: bool = True,
    random_state: int | None = None,
    backend: str | None = None,
    boot_weights: str = "rademacher",
) -> MPResult:
    """Estimate ATT(g,t) for every cohort g and period t of a balanced panel.

    ``data`` is a pandas or polars DataFrame or a mapping of column name to 1-D
    array in long form (one row per unit and period); ``gname`` holds each
    unit's first treated period, 0 for never treated. ``xformla`` names the
    covariates of the propensity score and outcome regression, as R's one-sided
    formula (``"~ x1 + x2"``, column names joined by ``+``) or a list of column
    names; their values are taken in the earlier of the two compared periods, as
    R's did does.

    With ``bstrap=True`` standard errors come from a multiplier bootstrap
    (``boot_weights`` "rademacher" as in R, or "mammen") and, with ``cband``, the
    band is a uniform sup-t band at level ``1 - alp``; otherwise they are
    analytic and the band is pointwise. ``random_state`` is an integer seed of
    the bootstrap; ``None`` draws one, which the result records.
    ``backend=None`` follows :func:`use_backend` (default "auto": the fastest
    available of cupy, numba, numpy).
    """
    _check_options(control_group, est_method, base_period, anticipation, biters, alp, boot_weights)
    covariates = covariate_names(xformla)
    be = get_backend(backend)
    never_only = control_group == "nevertreated"
    with stage("att_gt.prepare"):
        panel = prepare_panel(data, yname, tname, idname, gname, covariates)
        panel = restrict_sample(panel, control_group, int(anticipation))
        plan = plan_cells(panel, base_period, int(anticipation))
        warn_small_groups(panel.group, len(panel.covariate_names))
    with stage("att_gt.estimate"):
        att, inf, diag, mats = be.estimate_cells(panel, plan, est_method, never_only)
    report_cells(plan, diag, mats, est_method)
    n = panel.n
    with stage("att_gt.inference"):
        estimated = np.isfinite(att)
        if estimated.all():
            clean = inf
            check_finite("att_gt influence functions", inf)
        else:
            check_finite("att_gt influence functions", inf[:, estimated])
            clean = np.where(estimated[None, :], inf, 0.0)
        vcov = clean.T @ clean / n
        vcov[~estimated, :] = np.nan
        vcov[:, ~estimated] = np.nan
        check_psd("analytic variance of ATT(g,t)", vcov)
        se_analytical = np.sqrt(np.diag(vcov) / n)
        se_analytical[~(se_analytical > ZERO_SE)] = np.nan
        wald = _pretest(plan.group, plan.time, att, vcov, se_analytical, n)
    se = se_analytical.copy()
    crit = norm_ppf(1.0 - alp / 2.0)
    uniform = False
    if bstrap:
        random_state = new_seed() if random_state is None else int(random_state)
        with stage("att_gt.bootstrap"):
            res = multiplier_bootstrap(
                inf,
                biters=biters,
                random_state=random_state,
                backend=be,
                weights=boot_weights,
                alp=alp,
            )
        ok = np.isfinite(se_analytical)
        se[ok] = res.se[ok]
        if cband and math.isfinite(res.crit_val):
            crit, uniform = res.crit_val, True
            if crit >= 7:
                warnings.warn(
                    f"simultaneous critical value {crit:.2f} is too large to be reliable; "
                    "groups are probably very small or outcomes barely vary",
                    NumericWarning,
                    stacklevel=2,
                )
    return MPResult(
        group=plan.group,
        t=plan.time,
        att=att,
        se=se,
        se_analytical=se_analytical,
        inffunc=inf,
        vcov_analytical=vcov,
        crit_val=float(crit),
        wald=wald,
        n=n,
        ids=panel.ids,
        unit_group=panel.group,
        glist=np.unique(plan.group),
        tlist=panel.times,
        alp=alp,
        cband=bool(cband),
        uniform_band=uniform,
        bstrap=bool(bstrap),
        biters=int(biters),
        boot_weights=boot_weights,
        random_state=random_state if bstrap else None,
        control_group=control_group,
        est_method=est_method,
        base_period=base_period,
        anticipation=int(anticipation),
        covariates=panel.covariate_names,
        backend=be.name,
        diagnostics=diag,
    )


def _pretest(
    group: np.ndarray,
    time: np.ndarray,
    att: np.ndarray,
    vcov: np.ndarray,
    se: np.ndarray,
    n: int,
) -> WaldTest | None:
    """Wald test that all pre-treatment ATT(g,t) are zero, on the analytic variance (as R)."""
    pre = np.flatnonzero((group > time) & np.isfinite(se))
    if pre.size == 0:
        return None
    v = vcov[np.ix_(pre, pre)]
    if np.linalg.cond(v, 1) * np.finfo(np.float64).eps >= 1.0:
        warnings.warn(
            "no pre-trend Wald test: the covariance matrix of the pre-treatment cells is singular",
            NumericWarning,
            stacklevel=3,
        )
        return None
    a = att[pre]
    stat = float(n * a @ np.linalg.solve(v, a))
    return WaldTest(statistic=stat, df=int(pre.size), pvalue=chi2_sf(stat, int(pre.size)))
