"""arith.primitives: the generic rules against numpy transcriptions, and the int32 variants against them,
on the whole int16 state range and every dash 0..15."""

from __future__ import annotations

import numpy as np
from numba import njit

from xylodeploy.arith.primitives import dec, dec_i32, effective_weights, fire, neg_dec, neg_dec_i32, sat, sat_i32, wrap

LO, HI = -32768, 32767
X = np.arange(LO, HI + 1, dtype=np.int32)


@njit(cache=False)
def _table(x: np.ndarray, d: int) -> np.ndarray:
    out = np.zeros((6, x.shape[0]), np.int64)
    lo, hi, width = np.int32(LO), np.int32(HI), np.int32(HI - LO + 1)
    d32 = np.int32(d)
    for i in range(x.shape[0]):
        v = x[i]
        out[0, i] = dec(np.int64(v), d)
        out[1, i] = dec_i32(v, d32)
        out[2, i] = neg_dec(np.int64(v), d, LO, HI)
        out[3, i] = neg_dec_i32(v, d32, hi, width)
        out[4, i] = sat(np.int64(v) * 3, LO, HI)
        out[5, i] = sat_i32(np.int32(v * np.int32(3) // np.int32(2)), lo, hi)
    return out


def test_generic_and_int32_rules_agree_with_numpy_on_every_state() -> None:
    x = X.astype(np.int64)
    for d in range(16):
        got = _table(X, d)
        q = x >> d
        expect_dec = np.where((q == 0) & (x > 0), 1, q)
        neg = -expect_dec
        expect_neg = np.where(neg > HI, neg - 65536, neg)
        assert np.array_equal(got[0], expect_dec) and np.array_equal(got[1], expect_dec), d
        assert np.array_equal(got[2], expect_neg) and np.array_equal(got[3], expect_neg), d
        assert np.array_equal(got[4], np.clip(3 * x, LO, HI))
        assert np.array_equal(got[5], np.clip(3 * x // 2, LO, HI))
    assert neg_dec(-32768, 0, LO, HI) == -32768  # the wrap found by the xylosim cross-check


def test_wrap_and_fire() -> None:
    assert [wrap(v, LO, HI) for v in (32768, -32769, 65535, 5)] == [-32768, 32767, -1, 5]
    assert fire(50, 10, 0, 31, LO, HI) == (0, 5)
    assert fire(2031, 10, 0, 31, LO, HI) == (1721, 31)  # capped, the excess stays
    assert fire(0, 0, 0, 31, LO, HI) == (0, 31)  # threshold 0 fires the cap
    assert fire(30000, -5000, 0, 31, LO, HI) == (-30536, 1)  # negative threshold: adds |th|, wraps
    assert fire(5, 3, 30, 31, LO, HI) == (2, 31)  # starts from an alias count


def test_effective_weights_wrap_like_the_chip() -> None:
    """Hand-computed ``int16(w << shift)`` (the P7 probe's weights, before the decay of 1)."""
    pairs = [(127, 7, 16256), (-128, 7, -16384), (127, 8, 32512), (-128, 8, -32768), (127, 9, -512),
             (64, 9, -32768), (1, 15, -32768), (1, 16, 0), (-1, 31, 0)]  # fmt: skip
    for w, shift, expect in pairs:
        assert effective_weights(np.array([w]), shift).tolist() == [expect], (w, shift)
