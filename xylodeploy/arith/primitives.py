"""Compiled integer primitives of the Xylo core (docs/chip-arithmetic.md).

Every engine that runs the chip's arithmetic (the reference kernels, the fused exact training
kernel) calls these functions instead of writing the rules again. They are numba ``njit``
functions inlined at the call site, generic over the integer type of their arguments:

* ``dec(x, d)``: bit-shift decrement ``x >> d`` (floor), but at least 1 when ``x > 0``;
  the decayed value is ``x - dec(x, d)``.
* ``sat(x, lo, hi)``: saturation to ``[lo, hi]`` (int16: ``[-32768, 32767]``).
* ``wrap(x, lo, hi)``: two's-complement wrap into ``[lo, hi]`` for ``x`` at most one width outside.
* ``neg_dec(x, d, lo, hi)``: ``wrap(-dec(x, d))``, the membrane decrement as the chip adds it
  (``-dec(-32768, 0) = 32768`` wraps to ``-32768``).
* ``fire(v, th, k, cap, lo, hi)``: ``while k < cap and v >= th: v = wrap(v - th); k += 1``;
  returns ``(v, k)``.
* ``deliver(n, ptr, slot, w, src, state, lo, hi)`` / ``deliver_row(n, row, start, stop, state, lo, hi)``:
  ``n`` events of one source to its fan-out (CSR lists / a dense weight row between two columns),
  ``state[j] = sat(state[j] + n * w)``: the ``n`` events share one sign, so ``n`` saturating adds of
  ``w`` equal one saturating add of ``n * w``.

``dec_i32``, ``sat_i32`` and ``neg_dec_i32`` are the same rules for the int32 SIMD kernels.
The step that combines them is defined in `xylodeploy.arith.scalar_model`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def dec(x: int, d: int) -> int:
    """Bit-shift decrement: ``x >> d``, at least 1 for ``x > 0`` (0 for 0, <= -1 for negatives)."""
    q = x >> d
    if q == 0 and x > 0:
        q = 1
    return q


@njit(cache=True, nogil=True, inline="always")
def sat(x: int, lo: int, hi: int) -> int:
    """Saturate ``x`` to ``[lo, hi]``."""
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, nogil=True, inline="always")
def wrap(x: int, lo: int, hi: int) -> int:
    """Two's-complement wrap of ``x`` into ``[lo, hi]`` (``x`` within one width of the range)."""
    width = hi - lo + 1
    if x > hi:
        return x - width
    if x < lo:
        return x + width
    return x


@njit(cache=True, nogil=True, inline="always")
def neg_dec(x: int, d: int, lo: int, hi: int) -> int:
    """``wrap(-dec(x, d))``: the negated membrane decrement in the chip's register width."""
    return wrap(-dec(x, d), lo, hi)


@njit(cache=True, nogil=True, inline="always")
def fire(v: int, th: int, k: int, cap: int, lo: int, hi: int) -> tuple:
    """Capped subtractive firing from count ``k``: returns ``(v, k)`` after at most ``cap - k`` spikes."""
    while k < cap and v >= th:
        v = wrap(v - th, lo, hi)
        k += 1
    return v, k


# --- int32 variants for the SIMD kernels ------------------------------------------------------------
# The same rules, written branch-free with every intermediate cast back to int32: numba widens
# int32 arithmetic to int64, which stops LLVM from vectorising the loops of the vector and lanes
# kernels. Arguments are int32 (states, shifts 0..15, bounds); tests/unit/test_arith_primitives.py
# checks them equal to the generic functions above on the whole int16 state range.
_i32 = np.int32


@njit(cache=True, nogil=True, inline="always")
def deliver(n, ptr, slot, w, src, state, lo, hi) -> None:  # noqa: ANN001
    """``n`` events of source ``src`` to its CSR fan-out ``slot[ptr[src]:ptr[src+1]]`` (weights ``w``)."""
    for e in range(ptr[src], ptr[src + 1]):
        j = slot[e]
        state[j] = sat(state[j] + n * w[e], lo, hi)


@njit(cache=True, nogil=True, inline="always")
def deliver_row(n, row, start, stop, state, lo, hi) -> None:  # noqa: ANN001
    """``n`` events of one source through a dense weight ``row`` to the states ``start..stop-1``."""
    for j in range(start, stop):
        state[j] = sat(state[j] + n * row[j], lo, hi)


@njit(cache=True, nogil=True, inline="always")
def dec_i32(x, d):  # noqa: ANN001, ANN201
    """`dec` on int32: ``x >> d`` plus 1 where that is 0 and ``x > 0`` (no branch)."""
    q = _i32(x >> d)
    return _i32(q + _i32((q == 0) & (x > 0)))


@njit(cache=True, nogil=True, inline="always")
def sat_i32(x, lo, hi):  # noqa: ANN001, ANN201
    """`sat` on int32."""
    return _i32(min(_i32(max(x, lo)), hi))


@njit(cache=True, nogil=True, inline="always")
def neg_dec_i32(x, d, hi, width):  # noqa: ANN001, ANN201
    """`neg_dec` on int32: ``-dec(x, d)`` lies in ``[-hi, hi + 1]``, so only the upper wrap can apply
    (``width`` = ``hi - lo + 1``)."""
    nq = _i32(-dec_i32(x, d))
    return _i32(nq - _i32(width * _i32(nq > hi)))


def effective_weights(w: np.ndarray, shift: int, lo: int = -32768, hi: int = 32767) -> np.ndarray:
    """``wrap(w << shift)`` for a whole weight array (numpy, int64): the weight an event adds. Unlike
    `wrap` it folds any number of widths (shifts up to 31 move int8 weights far outside int16)."""
    width = hi - lo + 1
    return ((np.asarray(w, np.int64) << shift) - lo) % width + lo
