"""Counter-based random bits for the multiplier bootstrap.

Every bootstrap weight is a pure function of (seed, draw, unit): draw ``b``
gets a key, and unit ``i``'s weight comes from hashing that key with the index
of the 64-bit word that holds the unit's bit. Any backend, any thread count and
any chunking of the draws therefore sees the same weights, and no B x n weight
matrix ever needs to exist. The hash is SplitMix64's finalizer (it passes
BigCrush as a stream generator), cheap enough to recompute inside a kernel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
GAMMA_DRAW = 0x9E3779B97F4A7C15
GAMMA_WORD = 0xD1B54A32D192ED03
SEED_SALT = 0x6A09E667F3BCC909
MASK64 = (1 << 64) - 1

RADEMACHER, MAMMEN = 0, 1

_SQRT5 = math.sqrt(5.0)
# Two-point multiplier distributions: weight = lo, or hi with probability p_hi.
# Each has mean 0 and variance 1; Mammen's also has third moment 1.
WEIGHTS: dict[str, tuple[int, float, float, float]] = {
    "rademacher": (RADEMACHER, -1.0, 1.0, 0.5),
    "mammen": (MAMMEN, (1.0 - _SQRT5) / 2.0, (1.0 + _SQRT5) / 2.0, (_SQRT5 - 1.0) / (2.0 * _SQRT5)),
}


def weight_spec(name: str) -> tuple[int, float, float, int]:
    """(mode, low weight, high weight, 32-bit threshold for the high weight) for a weight name."""
    try:
        mode, lo, hi, p_hi = WEIGHTS[name]
    except KeyError:
        raise ValueError(f"boot_weights must be one of {sorted(WEIGHTS)}, got {name!r}") from None
    return mode, lo, hi, round(p_hi * 2.0**32)


def mix64(xp: Any, z: Any) -> Any:
    """SplitMix64 finalizer on an unsigned 64-bit array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def draw_keys(seed: int, first: int, count: int) -> np.ndarray:
    """Keys of draws ``first .. first+count-1`` for a seed."""
    s = mix64(np, np.array([(int(seed) & MASK64) ^ SEED_SALT], dtype=np.uint64))
    b = np.arange(first + 1, first + count + 1, dtype=np.uint64)
    return mix64(np, s + b * np.uint64(GAMMA_DRAW))


def word_hashes(xp: Any, keys: Any, n_words: int) -> Any:
    """(draws, n_words) hashes: word j of draw b is mix64(key_b + (j + 1) * GAMMA_WORD)."""
    j = xp.arange(1, n_words + 1, dtype=xp.uint64) * np.uint64(GAMMA_WORD)
    return mix64(xp, keys[:, None] + j[None, :])


def unit_bits(xp: Any, keys: Any, n: int, mode: int, threshold: int) -> Any:
    """(draws, n) 0/1 array: 1 where the unit draws the high weight.

    Rademacher: bit ``i % 64`` of word ``i // 64``. Mammen: the low (even i) or
    high (odd i) 32 bits of word ``i // 2`` compared with the threshold.
    """
    if mode == RADEMACHER:
        h = word_hashes(xp, keys, -(-n // 64))
        shifts = xp.arange(64, dtype=xp.uint64)
        bits = (h[:, :, None] >> shifts[None, None, :]) & np.uint64(1)
    else:
        h = word_hashes(xp, keys, -(-n // 2))
        lo = (h & np.uint64(0xFFFFFFFF)) < np.uint64(threshold)
        hi = (h >> np.uint64(32)) < np.uint64(threshold)
        bits = xp.stack([lo, hi], axis=-1)
    return bits.reshape(keys.shape[0], -1)[:, :n].astype(xp.uint8)


def unit_bits_numpy(keys: np.ndarray, n: int, mode: int, threshold: int) -> np.ndarray:
    """Same bits as :func:`unit_bits`, with ``np.unpackbits`` for the Rademacher case (faster)."""
    if mode != RADEMACHER:
        return unit_bits(np, keys, n, mode, threshold)
    h = word_hashes(np, keys, -(-n // 64)).astype("<u8", copy=False)
    bits = np.unpackbits(h.view(np.uint8), axis=1, bitorder="little")
    return bits[:, :n]
