"""Numba kernel for the multiplier bootstrap sums, without a B x n weight matrix.

Each draw's weights are regenerated inside the kernel from (key, 64-unit word)
with the hash in ``estimator_core.rng``, so the draws equal the NumPy backend's
bit for bit. The work is done eight units at a time: the 256 possible sums of
those eight influence-function rows go into a table, and a draw then adds the
table row chosen by its byte of weight bits. That turns 8 x K multiply-adds
per draw into K adds, which is what makes 1,000 draws over 50,000 units cheap.

Units are cut into segments whose size depends on n only; each segment sums
into its own slot and the slots are added in a fixed order. The result is
therefore the same for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from estimator_core import rng

_MIX1 = np.uint64(rng.MIX1)
_MIX2 = np.uint64(rng.MIX2)
_GAMMA_WORD = np.uint64(rng.GAMMA_WORD)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)
_BYTE = np.uint64(255)
_RADEMACHER = rng.RADEMACHER


@njit(cache=True, inline="always", error_model="numpy")
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, error_model="numpy")
def _mask(key, word, mode, threshold):
    """64 weight bits for units 64*word .. 64*word+63 of the draw with this key."""
    if mode == _RADEMACHER:
        return _mix(key + np.uint64(word + 1) * _GAMMA_WORD)
    mask = np.uint64(0)
    for q in range(32):
        h = _mix(key + np.uint64(32 * word + q + 1) * _GAMMA_WORD)
        if (h & _LOW32) < threshold:
            mask |= _ONE << np.uint64(2 * q)
        if (h >> _S32) < threshold:
            mask |= _ONE << np.uint64(2 * q + 1)
    return mask


@njit(parallel=True, cache=True, error_model="numpy")
def high_sums_chunk(inf, keys, count, mode, threshold, seg_words, partial):
    """partial[s, d, :] = sum over segment s's high-weight units of draw d (d < count).

    ``threshold`` is a uint64; rows past the end of ``inf`` (the last word's
    tail) count as zeros.
    """
    n, kp = inf.shape
    n_words = (n + 63) // 64
    n_seg = partial.shape[0]
    for s in prange(n_seg):
        table = np.empty((256, kp))
        masks = np.empty(count, np.uint64)
        acc = partial[s]
        acc[:count, :] = 0.0
        w_end = min(n_words, (s + 1) * seg_words)
        for w in range(s * seg_words, w_end):
            for dd in range(count):
                masks[dd] = _mask(keys[dd], w, mode, threshold)
            for m in range(8):
                r0 = 64 * w + 8 * m
                if r0 >= n:
                    break
                for kk in range(kp):
                    table[0, kk] = 0.0
                for r in range(8):
                    step = 1 << r
                    if r0 + r < n:
                        for e in range(step):
                            for kk in range(kp):
                                table[step + e, kk] = table[e, kk] + inf[r0 + r, kk]
                    else:
                        for e in range(step):
                            for kk in range(kp):
                                table[step + e, kk] = table[e, kk]
                shift = np.uint64(8 * m)
                for dd in range(count):
                    row = np.int64((masks[dd] >> shift) & _BYTE)
                    for kk in range(kp):
                        acc[dd, kk] += table[row, kk]
