"""Rotation removal of the Xylo IMU input interface, in the chip's integer arithmetic.

Three stages per clip (docs/imu-frontend.md), all integers, ``>>`` an arithmetic (floor) shift:

1. Covariance low-pass, every step: ``H += x x^T - (H >> k)``;  ``C = H >> k``  (``|H| < 2**(30+k)``).
2. Sample-and-hold: the SVD sees ``C`` at steps ``0, P, 2P, ...``; it is recomputed only when the
   held matrix changed, then the columns of the new rotation ``U`` are sign-aligned with the previous
   one: ``U[:, j] *= sign(sum_i U[i, j] U_old[i, j])`` (``U_old = I`` at the start; sign 0 gives 0).
3. Rotation: ``y_i = sum_j ((U[j, i] x_j) >> 32)`` (every term and partial sum within 16 bits);
   ``U`` is scaled by ``2**31 - 1``, so ``y ~ U^T x / 2``: one bit of headroom for the rotation.

The SVD is a fixed-point Jacobi sweep (`jacobi_svd`): 4 rounds over the 2x2 sub-problems
(pairs (0,1), (0,2), (1,2)); each rotation angle is taken from a 64-row table over [0, 45] deg
with 16-bit sin/cos/tan/cot and 1/(2 cos 2t), 1/(2 sin 2t) entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xylodeploy.chips import imu_if as hw
from xylodeploy.errors import ConfigError

_ONE = 1 << hw.LUT_BITS  # 2**16: the table's fixed-point unit
_SIGN_BIT = hw.INPUT_BITS - 1


def angle_table() -> np.ndarray:
    """The (6, 64) int64 table: rows tan2, cot2, sin, cos, 1/(2cos2), 1/(2sin2); -1 where unused.

    Angles ``t_r = r * 45deg / 63``. tan(2t) and 1/(2cos 2t) are kept for t <= 22.5 deg, cot(2t) and
    1/(2 sin 2t) above; entries are ``trunc(2**16 * f(t))`` (sin, cos: ``trunc((2**16 - 1) * f(t))``).
    """
    eps = 1e-29  # keeps 1/(2 sin 0) finite; below float resolution for every entry that is used
    theta = np.linspace(0, 45 / 180 * np.pi, hw.N_ANGLES)
    low = theta / np.pi * 180 <= 45 / 2
    with np.errstate(divide="ignore"):
        cols = (
            np.tan(2 * theta) * _ONE,
            1 / np.tan(2 * theta) * _ONE,
            (_ONE - 1) * np.sin(theta),
            (_ONE - 1) * np.cos(theta),
            _ONE * (1 / (2 * np.cos(2 * theta) + eps)),
            _ONE * (1 / (2 * np.sin(2 * theta) + eps)),
        )
    used = (low, ~low, None, None, low, ~low)
    table = np.full((6, hw.N_ANGLES), -1, dtype=np.int64)
    for r, (vals, mask) in enumerate(zip(cols, used, strict=True)):
        keep = np.ones(hw.N_ANGLES, bool) if mask is None else mask
        table[r, keep] = [int(v) for v in vals[keep]]
    return table


_TABLE = angle_table()
_N_LOW = int((_TABLE[0] >= 0).sum())


@njit(cache=True, nogil=True)
def _row(a: int, b: int, c: int, table: np.ndarray, n_low: int) -> int:
    """Table row for the 2x2 block [[a, b], [b, c]] (non-negative entries, b > 0)."""
    n = table.shape[1]
    if a == c:
        return n - 1
    d = abs(a - c)
    if 2 * b <= d:  # tan(2t) <= 1: first low row whose tan exceeds 2b/d, capped at the last low row
        row = 0
        for r in range(n_low):
            row += table[0, r] * d <= 2 * b * _ONE
        return row - 1 if row == n_low else row
    row = n_low
    for r in range(n_low, n):
        row += table[1, r] * 2 * b >= d * _ONE
    return n - 1 if row == n else row


@njit(cache=True, nogil=True)
def _rotate_pair(D: np.ndarray, R: np.ndarray, i: int, j: int, dim: int, table: np.ndarray, n_low: int) -> int:
    """One Jacobi step on rows/columns (i, j) of D, accumulated into R; returns 0 or an overflow code."""
    a, b, c = D[i, i], D[i, j], D[j, j]
    sab = 1 if b > 0 else -1
    sd = 0 if a == c else (1 if a > c else -1)
    s = sab if sd == 0 else sab * sd
    row = _row(abs(a), abs(b), abs(c), table, n_low)
    sin, cos = table[2, row], table[3, row]
    corr = 2 * b * table[5, row] * s if abs(2 * b) > abs(a - c) else (a - c) * table[4, row]
    half = ((a + c) * _ONE) // 2
    a_new, c_new = (half + corr) >> hw.LUT_BITS, (half - corr) >> hw.LUT_BITS
    lim = 1 << (hw.COV_BITS - 1 + hw.COV_EXTRA_BITS)
    v0, v1 = D[i, dim], D[j, dim]
    if abs(a_new) >= lim or abs(c_new) >= lim or abs(v0) >= lim or abs(v1) >= lim:
        return 1
    sn = s * sin
    D[i, i], D[j, j], D[i, j], D[j, i] = max(a_new, 0), max(c_new, 0), 0, 0
    D[i, dim] = D[dim, i] = (cos * v0 + sn * v1) >> hw.LUT_BITS
    D[j, dim] = D[dim, j] = (-sn * v0 + cos * v1) >> hw.LUT_BITS
    E = np.zeros((3, 3), np.int64)
    E[i, i], E[i, j], E[j, i], E[j, j], E[dim, dim] = cos, -sn, sn, cos, _ONE
    acc_lim = 1 << (hw.ROT_BITS + hw.LUT_BITS - 1 + hw.ROT_EXTRA_BITS)
    out_lim = 1 << (hw.ROT_BITS - 1 + hw.ROT_EXTRA_BITS)
    out = np.zeros((3, 3), np.int64)
    for p in range(3):
        for q in range(3):
            acc = 0
            for k in range(3):
                acc += R[p, k] * E[k, q]
                if abs(acc) >= acc_lim:
                    return 2
            out[p, q] = acc >> hw.LUT_BITS
            if abs(out[p, q]) >= out_lim:
                return 2
    R[:, :] = out
    return 0


@njit(cache=True, nogil=True)
def _jacobi(C: np.ndarray, table: np.ndarray, n_low: int, n_rounds: int) -> tuple:
    D = C.copy()
    R = np.eye(3, dtype=np.int64) * ((1 << (hw.ROT_BITS - 1)) - 1)
    for _ in range(n_rounds):
        if D[0, 1] == 0 and D[0, 2] == 0 and D[1, 2] == 0 and D[1, 0] == 0 and D[2, 0] == 0 and D[2, 1] == 0:
            break
        for dim in (2, 1, 0):
            i, j = (0, 1) if dim == 2 else ((0, 2) if dim == 1 else (1, 2))
            if D[i, j] == 0:
                continue
            code = _rotate_pair(D, R, i, j, dim, table, n_low)
            if code:
                return R, D, code
    return R, D, 0


def jacobi_svd(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point SVD of a symmetric 3x3 covariance: ``(U, D)`` with diag(D) descending.

    ``U`` has entries scaled by ``2**31 - 1``; columns are ordered by descending ``diag(D)``, equal
    values with the higher index first.
    """
    C = np.asarray(cov, dtype=np.int64)
    if np.abs(C).max() >= 1 << (hw.COV_BITS - 1):
        raise ConfigError(f"IMU rotation removal: covariance {int(np.abs(C).max())} exceeds {hw.COV_BITS - 1} bits")
    R, D, code = _jacobi(C, _TABLE, _N_LOW, hw.N_ROUNDS)
    if code:
        raise ConfigError(f"IMU rotation removal: {'covariance' if code == 1 else 'rotation'} overflow in the SVD")
    order = np.argsort(np.diag(D), kind="stable")[::-1]
    return R[:, order], D[np.ix_(order, order)]


def covariance(x: np.ndarray, avg_shift: int) -> np.ndarray:
    """Low-passed covariance ``C[n, t] = H[n, t] >> k`` of (N, T, 3) samples: (N, T, 3, 3) int64."""
    n, t_len, _ = x.shape
    shift = max(2 * hw.INPUT_BITS - 1 - hw.MULT_BITS, 0)
    lim = 1 << (hw.COV_BITS + avg_shift - 1)
    H = np.zeros((n, 3, 3), dtype=np.int64)
    out = np.empty((n, t_len, 3, 3), dtype=np.int64)
    for t in range(t_len):
        xt = x[:, t, :]
        H = H - (H >> avg_shift) + ((xt[:, :, None] * xt[:, None, :]) >> shift)
        if np.abs(H).max(initial=0) >= lim:
            raise ConfigError(f"IMU rotation removal: covariance register overflow at step {t} (avg_shift={avg_shift})")
        out[:, t] = H >> avg_shift
    return out


def _aligned(U: np.ndarray, U_old: np.ndarray) -> np.ndarray:
    """``U`` with column j multiplied by sign(<U[:, j], U_old[:, j]>) (exact, Python integers)."""
    signs = [int(np.sign(sum(int(U[i, j]) * int(U_old[i, j]) for i in range(3)))) for j in range(3)]
    return U * np.asarray(signs, dtype=np.int64)[None, :]


def rotate(x: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``y_i = sum_j ((U[j, i] x_j) >> 32)`` for (T, 3) samples; every term and partial sum in 16 bits."""
    lim = 1 << _SIGN_BIT
    terms = (U.T[None, :, :] * x[:, None, :]) >> hw.ROT_BITS  # (T, i, j)
    partial = np.cumsum(terms, axis=2)
    if terms.size and max(np.abs(terms).max(), np.abs(partial).max()) >= lim:
        raise ConfigError(f"IMU rotation removal: rotated sample exceeds {hw.INPUT_BITS}-bit range")
    return partial[:, :, -1]


def remove_rotation(x: np.ndarray, avg_shift: int = 4, hold_period: int = 10) -> np.ndarray:
    """Rotation-removed (N, T, 3) int64 signal of (N, T, 3) integer samples (each clip from reset)."""
    x = np.asarray(x, dtype=np.int64)
    cov = covariance(x, avg_shift)
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        held, U = None, np.eye(3, dtype=np.int64)
        for start in range(0, x.shape[1], hold_period):
            c = cov[n, start]
            if held is None or not np.array_equal(c, held):
                U = _aligned(jacobi_svd(c)[0], U)
                held = c
            out[n, start : start + hold_period] = rotate(x[n, start : start + hold_period], U)
    return out
