"""Numba kernel for one group-time cell: a few passes over the cell's units, no temporaries.

Same formulas, same Newton iteration and the same singularity rule as
``estimator_core.estimators`` (the NumPy reference); only loop order and thus
the last bits of rounding differ. The kernel releases the GIL, and the backend
runs cells on a thread pool: each writes only its own column of the influence
functions. (A ``prange`` over cells would do the same work but costs about 20 s
of extra compilation, because Numba recompiles every callee for the parallel
target.) Loops replace array expressions because they compile faster and
allocate nothing.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from estimator_core import estimators as est
from estimator_core import linalg

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_spd_solve = njit(**_JIT)(linalg.spd_solve)

DR, IPW, REG = 0, 1, 2

_OK = est.OK
_NO_TREATED, _NO_CONTROLS = est.NO_TREATED, est.NO_CONTROLS
_PS_SINGULAR, _OR_SINGULAR, _OVERLAP, _REFERENCE = (
    est.PS_SINGULAR,
    est.OR_SINGULAR,
    est.OVERLAP,
    est.REFERENCE,
)
_D_STATUS, _D_NTREAT, _D_NCTRL, _D_CLIPPED = est.D_STATUS, est.D_NTREAT, est.D_NCTRL, est.D_CLIPPED
_D_TRIMMED, _D_MAXPS, _D_ITERS, _D_CONVERGED = (
    est.D_TRIMMED,
    est.D_MAXPS,
    est.D_ITERS,
    est.D_CONVERGED,
)
_PS_CAP, _TRIM, _OVERLAP_LIMIT = est.PS_CAP, est.TRIM_LEVEL, est.OVERLAP_LIMIT
_MAXIT, _TOL, _ETA_CLIP = est.LOGIT_MAX_ITER, est.LOGIT_TOL, est.ETA_CLIP


@njit(**_JIT)
def _inverse(a):
    k = a.shape[0]
    out = np.empty((k, k))
    unit = np.zeros(k)
    pivot = 1.0
    for j in range(k):
        for r in range(k):
            unit[r] = 1.0 if r == j else 0.0
        col, pivot = _spd_solve(a, unit)
        for r in range(k):
            out[r, j] = col[r]
    return out, pivot


@njit(**_JIT)
def _newton_pass(x, d, beta, p, info, score):
    """Fitted probabilities, information matrix X'WX and score X'(d - p) in one pass."""
    n1, k = x.shape
    info[:, :] = 0.0
    score[:] = 0.0
    for j in range(n1):
        eta = 0.0
        for a in range(k):
            eta += x[j, a] * beta[a]
        eta = min(max(eta, -_ETA_CLIP), _ETA_CLIP)
        pj = 1.0 / (1.0 + math.exp(-eta))
        p[j] = pj
        w = pj * (1.0 - pj)
        r = d[j] - pj
        for a in range(k):
            score[a] += x[j, a] * r
            wa = w * x[j, a]
            for b in range(k):
                info[a, b] += wa * x[j, b]


@njit(**_JIT)
def _logit(x, d):
    n1, k = x.shape
    pbar = 0.0
    for j in range(n1):
        pbar += d[j]
    pbar /= n1
    beta = np.zeros(k)
    beta[0] = math.log(pbar / (1.0 - pbar))
    p = np.empty(n1)
    info = np.zeros((k, k))
    if k == 1:
        # Intercept only: the MLE is p = mean(d) for every unit (as in the NumPy reference).
        p[:] = pbar
        info[0, 0] = n1 * pbar * (1.0 - pbar)
        return p, info, 0, True
    score = np.zeros(k)
    iters = 0
    converged = False
    while iters < _MAXIT:
        iters += 1
        _newton_pass(x, d, beta, p, info, score)
        step, pivot = _spd_solve(info, score)
        if pivot == 0.0:
            return p, info, iters, False
        big_step = 0.0
        big_beta = 0.0
        for a in range(k):
            beta[a] += step[a]
            big_step = max(big_step, abs(step[a]))
            big_beta = max(big_beta, abs(beta[a]))
        if big_step <= _TOL * (1.0 + big_beta):
            converged = True
            break
    _newton_pass(x, d, beta, p, info, score)
    return p, info, iters, converged


@njit(**_JIT)
def _dot(x, j, v):
    s = 0.0
    for a in range(v.shape[0]):
        s += x[j, a] * v[a]
    return s


@njit(**_JIT)
def _matvec(a, v):
    # Written out: Numba's np.dot goes through SciPy's BLAS bindings, not a dependency here.
    k = a.shape[0]
    out = np.zeros(k)
    for r in range(k):
        for s in range(k):
            out[r] += a[r, s] * v[s]
    return out


@njit(**_JIT)
def _store(mats, c, slot, m):
    for a in range(m.shape[0]):
        for b in range(m.shape[1]):
            mats[c, slot, a, b] = m[a, b]


@njit(**_JIT)
def _fail(c, status, att, inf, diag):
    att[c] = np.nan
    for i in range(inf.shape[0]):
        inf[i, c] = np.nan
    diag[c, _D_STATUS] = status


@njit(**_JIT)
def one_cell(y, group, xcov, c, g, t, b, cut, never_only, method, att, inf, diag, mats):
    """Fit cell ``c``: fill att[c], column c of ``inf`` (zero outside the cell), diag[c], mats[c]."""
    n = group.shape[0]
    kc = xcov.shape[2]
    k = kc + 1
    idx = np.empty(n, np.int64)
    n1 = 0
    n_treat = 0
    for i in range(n):
        gi = group[i]
        tr = gi == g
        ct = gi == 0.0 or ((not never_only) and gi > cut and gi != g)
        if tr or ct:
            idx[n1] = i
            n1 += 1
            if tr:
                n_treat += 1
    diag[c, _D_NTREAT] = n_treat
    diag[c, _D_NCTRL] = n1 - n_treat
    if n_treat == 0:
        _fail(c, _NO_TREATED, att, inf, diag)
        return
    if n_treat == n1:
        _fail(c, _NO_CONTROLS, att, inf, diag)
        return
    d = np.empty(n1)
    dy = np.empty(n1)
    x = np.empty((n1, k))
    tx = min(t, b)
    for j in range(n1):
        i = idx[j]
        d[j] = 1.0 if group[i] == g else 0.0
        dy[j] = y[t, i] - y[b, i]
        x[j, 0] = 1.0
        for a in range(kc):
            x[j, a + 1] = xcov[tx, i, a]
    resid = np.empty(n1)
    xtx_n = np.zeros((k, k))
    if method != IPW:
        xtx = np.zeros((k, k))
        xty = np.zeros(k)
        for j in range(n1):
            if d[j] == 0.0:
                for a in range(k):
                    xty[a] += x[j, a] * dy[j]
                    for bb in range(k):
                        xtx[a, bb] += x[j, a] * x[j, bb]
        _store(mats, c, 1, xtx)
        coef, pivot = _spd_solve(xtx, xty)
        if pivot == 0.0:
            _fail(c, _OR_SINGULAR, att, inf, diag)
            return
        for j in range(n1):
            resid[j] = dy[j] - _dot(x, j, coef)
        for a in range(k):
            for bb in range(k):
                xtx_n[a, bb] = xtx[a, bb] / n1
    ps = np.empty(n1)
    w_t = np.empty(n1)
    w_c = np.empty(n1)
    hess_n = np.zeros((k, k))
    if method != REG:
        p_raw, info, iters, converged = _logit(x, d)
        _store(mats, c, 0, info)
        diag[c, _D_ITERS] = iters
        diag[c, _D_CONVERGED] = 1.0 if converged else 0.0
        hess_inv, pivot = _inverse(info)
        if pivot == 0.0:
            _fail(c, _PS_SINGULAR, att, inf, diag)
            return
        max_ps = 0.0
        clipped = 0
        trimmed = 0
        for j in range(n1):
            pj = p_raw[j]
            max_ps = max(max_ps, pj)
            if pj > _PS_CAP:
                clipped += 1
                pj = _PS_CAP
            ps[j] = pj
            keep = 1.0
            if d[j] == 0.0 and not pj < _TRIM:
                keep = 0.0
                trimmed += 1
            w_t[j] = keep * d[j]
            w_c[j] = keep * pj * (1.0 - d[j]) / (1.0 - pj)
        diag[c, _D_MAXPS] = max_ps
        diag[c, _D_CLIPPED] = clipped
        diag[c, _D_TRIMMED] = trimmed
        if max_ps >= _OVERLAP_LIMIT:
            _fail(c, _OVERLAP, att, inf, diag)
            return
        for a in range(k):
            for bb in range(k):
                hess_n[a, bb] = hess_inv[a, bb] * n1
    # Passes are fused: every sum that does not need eta in one pass, then the score
    # moment that does, then the influence function written straight into its column.
    scale = n / n1
    m1 = np.zeros(k)
    m2 = np.zeros(k)
    m3 = np.zeros(k)
    if method == DR:
        s_t = s_c = s_tr = s_cr = 0.0
        for j in range(n1):
            s_t += w_t[j]
            s_c += w_c[j]
            s_tr += w_t[j] * resid[j]
            s_cr += w_c[j] * resid[j]
            for a in range(k):
                m1[a] += w_t[j] * x[j, a]
                m3[a] += w_c[j] * x[j, a]
        mw_t, mw_c = s_t / n1, s_c / n1
        eta_t = s_tr / n1 / mw_t
        eta_c = s_cr / n1 / mw_c
        for j in range(n1):
            u = w_c[j] * (resid[j] - eta_c)
            for a in range(k):
                m2[a] += u * x[j, a]
        a1 = _spd_solve(xtx_n, m1 / n1)[0]
        a2 = _matvec(hess_n, m2 / n1)
        a3 = _spd_solve(xtx_n, m3 / n1)[0]
        for j in range(n1):
            ols = (1.0 - d[j]) * resid[j]
            it = (w_t[j] * resid[j] - w_t[j] * eta_t - ols * _dot(x, j, a1)) / mw_t
            ic = (
                w_c[j] * resid[j]
                - w_c[j] * eta_c
                + (d[j] - ps[j]) * _dot(x, j, a2)
                - ols * _dot(x, j, a3)
            ) / mw_c
            inf[idx[j], c] = (it - ic) * scale
    elif method == IPW:
        s_t = s_c = s_ty = s_cy = 0.0
        for j in range(n1):
            s_t += w_t[j]
            s_c += w_c[j]
            s_ty += w_t[j] * dy[j]
            s_cy += w_c[j] * dy[j]
        mw_t, mw_c = s_t / n1, s_c / n1
        eta_t = s_ty / n1 / mw_t
        eta_c = s_cy / n1 / mw_c
        for j in range(n1):
            u = w_c[j] * (dy[j] - eta_c)
            for a in range(k):
                m2[a] += u * x[j, a]
        a2 = _matvec(hess_n, m2 / n1)
        for j in range(n1):
            it = (w_t[j] * dy[j] - w_t[j] * eta_t) / mw_t
            ic = (w_c[j] * dy[j] - w_c[j] * eta_c + (d[j] - ps[j]) * _dot(x, j, a2)) / mw_c
            inf[idx[j], c] = (it - ic) * scale
    else:
        md = n_treat / n1
        s_ty = s_tf = 0.0
        for j in range(n1):
            s_ty += d[j] * dy[j]
            s_tf += d[j] * (dy[j] - resid[j])  # the controls' fitted change at the cohort's x
            for a in range(k):
                m1[a] += d[j] * x[j, a]
        eta_t = s_ty / n1 / md
        eta_c = s_tf / n1 / md
        a1 = _spd_solve(xtx_n, m1 / n1)[0]
        for j in range(n1):
            fitted = dy[j] - resid[j]
            it = (d[j] * dy[j] - d[j] * eta_t) / md
            ic = (d[j] * fitted - d[j] * eta_c + (1.0 - d[j]) * resid[j] * _dot(x, j, a1)) / md
            inf[idx[j], c] = (it - ic) * scale
    att[c] = eta_t - eta_c
    diag[c, _D_STATUS] = _OK
