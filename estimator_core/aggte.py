"""Aggregate ATT(g,t) into summary effects, as R's ``did::aggte``.

Weights are cohort shares P(G = g), which are estimated; their influence
function (R's ``wif``) is added to each aggregate's, otherwise standard errors
would be too small. All influence functions of one aggregation are
bootstrapped jointly, which yields the per-key standard errors and the uniform
band's critical value from the same draws.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from estimator_core.backends.dispatch import current_backend, get_backend
from estimator_core.bootstrap import (
    ZERO_SE,
    multiplier_bootstrap,
    new_seed,
    sup_t_critical_value,
)
from estimator_core.errors import NumericWarning
from estimator_core.results import AGGTEResult, MPResult
from estimator_core.stages import stage
from estimator_core.stats import norm_ppf

TYPES = ("simple", "dynamic", "group", "calendar")


def _wif(keepers: np.ndarray, pg: np.ndarray, unit_g: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Influence function (n x len(keepers)) of the weights pg[k] / sum(pg[keepers])."""
    ind = (unit_g[:, None] == group[keepers][None, :]).astype(np.float64)
    dev = ind - pg[keepers][None, :]
    total = pg[keepers].sum()
    return dev / total - dev.sum(axis=1, keepdims=True) * (pg[keepers] / total**2)[None, :]


def _agg_if(
    att: np.ndarray,
    inf: np.ndarray,
    which: np.ndarray,
    weights: np.ndarray,
    wif: np.ndarray | None = None,
) -> np.ndarray:
    """R's get_agg_inf_func: weighted sum of cell influence functions plus the weights' own."""
    out = inf[:, which] @ weights
    if wif is not None:
        out = out + wif @ att[which]
    return out


def aggte(
    MP: MPResult,
    type: str = "group",
    balance_e: int | None = None,
    min_e: float = -math.inf,
    max_e: float = math.inf,
    na_rm: bool = False,
    bstrap: bool | None = None,
    biters: int | None = None,
    cband: bool | None = None,
    alp: float | None = None,
    random_state: int | None = None,
    backend: str | None = None,
) -> AGGTEResult:
    """Aggregate group-time effects: "simple", "dynamic" (event study), "group" or "calendar".

    ``MP`` is the result of ``att_gt`` (R's and moderndid's name for it).
    ``bstrap``, ``biters``, ``cband`` and ``alp`` default to the values used in
    ``att_gt``; the default ``random_state`` is att_gt's plus one, so an aggregation
    is reproducible whenever the estimate is. ``balance_e`` keeps only cohorts
    observed for that many periods after treatment; ``min_e`` / ``max_e``
    limit event times. ``backend=None`` follows :func:`use_backend` when a block
    names one, else bootstraps on the backend the estimate ran on.
    """
    if type not in TYPES:
        raise ValueError(f"type must be one of {TYPES}, got {type!r}")
    bstrap = MP.bstrap if bstrap is None else bool(bstrap)
    biters = MP.biters if biters is None else int(biters)
    cband = MP.cband if cband is None else bool(cband)
    alp = MP.alp if alp is None else float(alp)
    with stage(f"aggte.{type}"):
        keys, est, infs, overall, overall_if = _aggregate(MP, type, balance_e, min_e, max_e, na_rm)
    n = MP.n
    columns = np.column_stack([infs, overall_if]) if infs.size else overall_if[:, None]
    se = np.sqrt(np.sum(columns**2, axis=0)) / n
    crit = norm_ppf(1.0 - alp / 2.0)
    uniform = False
    if bstrap:
        if random_state is None:
            random_state = new_seed() if MP.random_state is None else MP.random_state + 1
        with stage("aggte.bootstrap"):
            res = multiplier_bootstrap(
                columns,
                biters=biters,
                random_state=random_state,
                backend=get_backend(_bootstrap_backend(backend, MP)),
                weights=MP.boot_weights,
                alp=alp,
            )
        se = res.se
        if cband and infs.size:
            # The band covers the per-key effects only, not the overall one in the last column.
            m = infs.shape[1]
            band = sup_t_critical_value(res.draws[:, :m], res.se[:m] * math.sqrt(n), alp)
            crit, uniform = _checked_band(band, alp)
    se = np.where(se > ZERO_SE, se, np.nan)
    return AGGTEResult(
        type=type,
        overall_att=float(overall),
        overall_se=float(se[-1]),
        egt=keys,
        att_egt=est,
        se_egt=se[:-1],
        crit_val_egt=float(crit),
        inf_function=overall_if,
        inf_function_egt=infs,
        alp=alp,
        cband=cband,
        uniform_band=uniform,
        bstrap=bstrap,
        random_state=random_state if bstrap else None,
        min_e=min_e,
        max_e=max_e,
        balance_e=balance_e,
        control_group=MP.control_group,
        est_method=MP.est_method,
        anticipation=MP.anticipation,
    )


def _bootstrap_backend(backend: str | None, result: MPResult) -> str:
    # "auto" would pick Numba for an estimate the caller ran on NumPy, and compiling the
    # bootstrap kernel costs seconds the caller chose not to spend; every backend draws the
    # same weights and their sums agree to rounding, so following the estimate costs nothing.
    if backend is not None:
        return backend
    chosen = current_backend()
    return result.backend if chosen == "auto" else chosen


def _checked_band(crit: float, alp: float) -> tuple[float, bool]:
    z = norm_ppf(1.0 - alp / 2.0)
    if not math.isfinite(crit):
        warnings.warn(
            "simultaneous critical value is NaN (standard errors are NA); reporting pointwise bands",
            NumericWarning,
            stacklevel=3,
        )
        return z, False
    if crit < z:
        warnings.warn(
            "simultaneous band came out narrower than the pointwise one; reporting pointwise bands",
            NumericWarning,
            stacklevel=3,
        )
        return z, False
    if crit >= 7:
        warnings.warn(
            f"simultaneous critical value {crit:.2f} is too large to be reliable",
            NumericWarning,
            stacklevel=3,
        )
    return crit, True


def _aggregate(
    result: MPResult,
    type_: str,
    balance_e: int | None,
    min_e: float,
    max_e: float,
    na_rm: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Keys, per-key estimates and influence functions (n x keys), overall estimate and its IF."""
    group, t, att, inf = result.group, result.t, result.att, result.inffunc
    glist = result.glist
    if na_rm:
        ok = np.isfinite(att)
        group, t, att, inf = group[ok], t[ok], att[ok], inf[:, ok]
        glist = np.unique(group)
    elif np.isnan(att).any():
        raise ValueError("some ATT(g,t) are missing (NaN); pass na_rm=True to aggregate the others")
    # R's did works on period positions (1, 2, ...) over the union of periods and groups, so
    # that "t <= g + max_e" counts periods even when they are not consecutive numbers.
    gt = np.unique(np.concatenate([result.tlist, glist]))

    def pos(v: np.ndarray) -> np.ndarray:
        return np.where(v == 0, 0, np.searchsorted(gt, v) + 1)

    t_r, g_r, glist_r = pos(t), pos(group), pos(glist)
    unit_g = pos(result.unit_group)
    pgg = np.array([np.mean(result.unit_group == g) for g in glist])
    pg = pgg[np.searchsorted(glist, group)]
    n = result.n
    if type_ == "simple":
        keep = np.flatnonzero((g_r <= t_r) & (t_r <= g_r + max_e))
        w = pg[keep] / pg[keep].sum()
        inf_o = _agg_if(att, inf, keep, w, _wif(keep, pg, unit_g, g_r))
        return np.empty(0), np.empty(0), np.empty((n, 0)), float(att[keep] @ w), inf_o
    if type_ == "group":
        est, cols = [], []
        for g in glist_r:
            which = np.flatnonzero((g_r == g) & (g <= t_r) & (t_r <= g_r + max_e))
            est.append(att[which].mean() if which.size else np.nan)
            cols.append(_agg_if(att, inf, which, np.full(which.size, 1.0 / max(which.size, 1))))
        est_a, infs = np.asarray(est), np.column_stack(cols)
        allg = np.arange(glist.size)
        overall = float(est_a @ pgg / pgg.sum())
        wif = _wif(allg, pgg, unit_g, glist_r)
        inf_o = _agg_if(est_a, infs, allg, pgg / pgg.sum(), wif)
        return glist, est_a, infs, overall, inf_o
    if type_ == "dynamic":
        e_all = t - group
        include = np.ones(att.size, bool)
        eseq = np.unique(e_all)
        if balance_e is not None:
            t_max, t_min = result.tlist[-1], result.tlist[0]
            include = t_max - group >= balance_e
            eseq = np.unique(e_all[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_max + t_min)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise ValueError("no event times are left after min_e / max_e / balance_e")
        est, cols = [], []
        for e in eseq:
            which = np.flatnonzero((e_all == e) & include)
            w = pg[which] / pg[which].sum()
            est.append(float(att[which] @ w))
            cols.append(_agg_if(att, inf, which, w, _wif(which, pg, unit_g, g_r)))
        est_a, infs = np.asarray(est), np.column_stack(cols)
        post = np.flatnonzero(eseq >= 0)
        if post.size == 0:
            return eseq, est_a, infs, math.nan, np.full(n, np.nan)
        inf_o = _agg_if(est_a, infs, post, np.full(post.size, 1.0 / post.size))
        return eseq, est_a, infs, float(est_a[post].mean()), inf_o
    # calendar
    times = result.tlist[result.tlist >= group.min()]
    est, cols = [], []
    for tt in times:
        which = np.flatnonzero((t == tt) & (group <= t))
        w = pg[which] / pg[which].sum()
        est.append(float(att[which] @ w))
        cols.append(_agg_if(att, inf, which, w, _wif(which, pg, unit_g, g_r)))
    est_a, infs = np.asarray(est), np.column_stack(cols)
    inf_o = _agg_if(est_a, infs, np.arange(times.size), np.full(times.size, 1.0 / times.size))
    return times, est_a, infs, float(est_a.mean()), inf_o
