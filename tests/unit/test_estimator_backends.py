"""Backends agree: NumPy (reference) vs Numba to 1e-9, the CuPy code path run with NumPy,
identical bootstrap draws for a seed whatever the backend, thread count or chunking."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import estimator_core as ec
from estimator_core import rng
from estimator_core.backends import dispatch, numba_backend, numpy_backend
from estimator_core.backends.cupy_backend import CupyBackend
from estimator_core.backends.numba_backend import NumbaBackend
from estimator_core.backends.numpy_backend import NumpyBackend
from estimator_core.bootstrap import multiplier_bootstrap
from estimator_core.cells import plan_cells, restrict_sample
from estimator_core.panel import prepare_panel

COLS = ("y", "period", "id", "first_treat")


@pytest.fixture(scope="module")
def sim() -> ec.SimulatedPanel:
    return ec.simulate_panel(n_units=1500, n_periods=6, covariates=True, seed=5)


def _close(a, b, rtol=1e-9):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.nanmax(np.abs(a)) if np.isfinite(a).any() else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True)


@pytest.mark.parametrize(
    ("method", "control", "base", "covs"),
    [
        ("dr", "nevertreated", "varying", ["x"]),
        ("ipw", "notyettreated", "varying", ["x"]),
        ("reg", "nevertreated", "universal", ["x"]),
        ("dr", "notyettreated", "universal", None),
    ],
)
def test_numpy_and_numba_agree(sim, method, control, base, covs):
    kw = dict(
        xformla=covs,
        est_method=method,
        control_group=control,
        base_period=base,
        biters=200,
        random_state=7,
    )
    a = ec.att_gt(sim.data, *COLS, backend="numpy", **kw)
    b = ec.att_gt(sim.data, *COLS, backend="numba", **kw)
    assert (a.backend, b.backend) == ("numpy", "numba")
    _close(a.att, b.att)
    _close(a.inffunc, b.inffunc)
    _close(a.se_analytical, b.se_analytical)
    _close(a.se, b.se)
    _close(a.crit_val, b.crit_val)
    if a.wald is not None:
        _close(a.wald.statistic, b.wald.statistic)
    np.testing.assert_array_equal(a.diagnostics[:, :3], b.diagnostics[:, :3])


@pytest.mark.parametrize("weights", ["rademacher", "mammen"])
def test_bootstrap_draws_identical_across_backends(sim, weights):
    fit = ec.att_gt(sim.data, *COLS, bstrap=False, backend="numpy")
    kw = dict(biters=300, random_state=11, weights=weights)
    ref = multiplier_bootstrap(fit.inffunc, backend=NumpyBackend(), **kw)
    for backend in (NumbaBackend(), CupyBackend(xp=np)):
        other = multiplier_bootstrap(fit.inffunc, backend=backend, **kw)
        np.testing.assert_allclose(other.draws, ref.draws, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(other.se, ref.se, rtol=1e-11)
        assert other.crit_val == pytest.approx(ref.crit_val, rel=1e-11)
    # A different seed gives different draws.
    moved = multiplier_bootstrap(fit.inffunc, backend=NumpyBackend(), biters=300, random_state=12)
    assert not np.allclose(moved.draws, ref.draws)


def test_numba_draws_do_not_depend_on_threads_or_chunks(sim, monkeypatch):
    inf = np.random.default_rng(0).standard_normal((5000, 9))
    keys = rng.draw_keys(3, 0, 130)
    be = NumbaBackend()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = be.high_sums(inf, keys, rng.RADEMACHER, 0)
    finally:
        numba.set_num_threads(before)
    many = be.high_sums(inf, keys, rng.RADEMACHER, 0)
    np.testing.assert_array_equal(one, many)
    monkeypatch.setattr(numba_backend, "PARTIAL_ELEMENTS", 1)  # 64 draws per chunk
    np.testing.assert_array_equal(be.high_sums(inf, keys, rng.RADEMACHER, 0), many)
    # The first draws of a longer run are the draws of a shorter one.
    np.testing.assert_array_equal(be.high_sums(inf, keys[:40], rng.RADEMACHER, 0), many[:40])


def test_numpy_chunking_does_not_change_draws(monkeypatch):
    inf = np.random.default_rng(1).standard_normal((777, 4))
    keys = rng.draw_keys(5, 0, 50)
    full = NumpyBackend().high_sums(inf, keys, rng.MAMMEN, rng.weight_spec("mammen")[3])
    monkeypatch.setattr(numpy_backend, "CHUNK_ELEMENTS", 2000)  # two draws per chunk
    small = NumpyBackend().high_sums(inf, keys, rng.MAMMEN, rng.weight_spec("mammen")[3])
    np.testing.assert_allclose(small, full, rtol=1e-12, atol=1e-12)


def test_high_sums_match_explicit_weights():
    # Against a weight matrix built the slow, obvious way from the documented bit layout.
    inf = np.random.default_rng(2).standard_normal((130, 3))
    keys = rng.draw_keys(9, 0, 4)
    h = rng.word_hashes(np, keys, 3)
    bits = np.array([[(int(h[b, i // 64]) >> (i % 64)) & 1 for i in range(130)] for b in range(4)])
    expected = bits @ inf
    for be in (NumpyBackend(), NumbaBackend(), CupyBackend(xp=np)):
        np.testing.assert_allclose(be.high_sums(inf, keys, rng.RADEMACHER, 0), expected, rtol=1e-12)


def test_weight_distributions():
    keys = rng.draw_keys(123, 0, 200)
    rad = rng.unit_bits(np, keys, 5000, rng.RADEMACHER, 0)
    assert abs(rad.mean() - 0.5) < 0.005
    mode, lo, hi, thr = rng.weight_spec("mammen")
    mam = rng.unit_bits(np, keys, 5000, mode, thr)
    w = np.where(mam == 1, hi, lo)
    assert abs(w.mean()) < 0.01 and abs(w.var() - 1.0) < 0.02 and abs((w**3).mean() - 1.0) < 0.05
    # Draws are not correlated with one another.
    corr = np.corrcoef(rad[:20].astype(float))
    assert np.abs(corr[np.triu_indices(20, 1)]).max() < 0.07


def test_xp_code_path_on_cpu_matches_numpy(sim):
    panel = prepare_panel(sim.data, *COLS, covariates=["x"])
    panel = restrict_sample(panel, "notyettreated", 0)
    plan = plan_cells(panel, "varying", 0)
    a = NumpyBackend().estimate_cells(panel, plan, "dr", False)
    b = CupyBackend(xp=np).estimate_cells(panel, plan, "dr", False)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14, equal_nan=True)


def test_use_backend_context_and_argument(sim):
    assert ec.current_backend() == "auto"
    with ec.use_backend("numpy"):
        assert ec.current_backend() == "numpy"
        fit = ec.att_gt(sim.data, *COLS, bstrap=False)
        assert fit.backend == "numpy"
        # An explicit argument wins over the context.
        assert ec.att_gt(sim.data, *COLS, bstrap=False, backend="numba").backend == "numba"
        with ec.use_backend("numba"):
            assert ec.att_gt(sim.data, *COLS, bstrap=False).backend == "numba"
        assert ec.current_backend() == "numpy"
    assert ec.current_backend() == "auto"
    assert dispatch.resolve_name("auto") == ec.available_backends()[0]


def test_unknown_and_unavailable_backends(monkeypatch):
    with pytest.raises(ValueError, match="backend must be one of"):
        dispatch.get_backend("jax")
    with pytest.raises(ValueError), ec.use_backend("torch"):
        pass
    monkeypatch.setattr(
        dispatch, "_cupy_status", lambda: "CuPy is not installed; pip install 'diagkit[gpu]'"
    )
    with pytest.raises(ec.BackendUnavailableError, match=r"diagkit\[gpu\]") as err:
        dispatch.get_backend("cupy")
    assert isinstance(err.value, ImportError)
    assert "cupy" not in ec.available_backends()
    monkeypatch.setattr(dispatch, "_numba_status", lambda: "numba is not installed")
    assert dispatch.resolve_name("auto") == "numpy"


def _gpu_ready() -> bool:
    return dispatch.unavailable_reason("cupy") is None


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_ready(), reason="needs CuPy and a CUDA device")
def test_cupy_matches_numpy_on_gpu(sim):
    kw = dict(xformla=["x"], biters=300, random_state=3)
    a = ec.att_gt(sim.data, *COLS, backend="numpy", **kw)
    b = ec.att_gt(sim.data, *COLS, backend="cupy", **kw)
    np.testing.assert_allclose(b.att, a.att, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.inffunc, a.inffunc, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-6)
    assert b.crit_val == pytest.approx(a.crit_val, rel=1e-6)
