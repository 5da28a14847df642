"""Bit-exact model of the Xylo IMU input interface: 3-axis samples -> 15 spike channels.

Chain (docs/imu-frontend.md), every clip from reset, ``>>`` an arithmetic (floor) shift:

1. rotation removal (`xylodeploy.frontends.imu_rotation`), unless bypassed;
2. band-pass filter ``c`` on axis ``c // 5`` (registers B_b, B_wf, B_af, a1, a2)::

       w[t] = ((x[t] << B_wf) + ((-a2 w[t-2] - a1 w[t-1]) >> B_af)) >> B_b     (|w| < 2**(24 + B_wf))
       y[t] = (w[t] - w[t-2]) >> B_wf                                          (|y| < 2**24)

3. spike encoder, per channel:

   * scale: ``s[t] = min(|y[t]| >> shift, 15)`` events;
   * integrate-and-fire: ``S[t] = sum_{u<=t} |y[u]|``; ``s[t] = min(S[t] // th - S[t-1] // th, 1)``
     (one event per step at most; crossings beyond the first in a step are dropped).

Samples are 16-bit signed (``|x| <= 32767``); a register overflow raises `ConfigError`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xylodeploy.chips import imu_if as hw
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.imu_config import ImuFilter, ImuInterfaceConfig
from xylodeploy.frontends.imu_rotation import remove_rotation

MAX_SAMPLE = 2 ** (hw.INPUT_BITS - 1) - 1
MAX_EVENTS = 2**hw.SPIKE_BITS - 1


def as_imu_samples(x: np.ndarray, source: str = "IMU data") -> np.ndarray:
    """Validate (N, T, 3) or (T, 3) integer samples within 16 bits; return (N, T, 3) int64."""
    arr = np.asarray(x)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != hw.N_AXES:
        raise ConfigError(f"{source}: IMU samples must have shape (N, T, 3), got {np.asarray(x).shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ConfigError(f"{source}: IMU samples must be integers (quantize the sensor data first)")
    elif arr.dtype.kind not in "iu":
        raise ConfigError(f"{source}: IMU samples must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    peak = int(np.abs(arr).max(initial=0))
    if peak > MAX_SAMPLE:
        raise ConfigError(f"{source}: IMU sample magnitude {peak} exceeds {MAX_SAMPLE} (16-bit signed input)")
    return arr


@njit(cache=True, nogil=True)
def _filter_kernel(x: np.ndarray, axis: np.ndarray, regs: np.ndarray, y: np.ndarray) -> int:
    """Run the 15 filters over (N, T, 3) ``x`` into (N, T, 15) ``y``; return the first overflowing channel or -1."""
    n_clips, n_steps, n_ch = y.shape
    for c in range(n_ch):
        bb, bwf, baf, a1, a2 = regs[c, 0], regs[c, 1], regs[c, 2], regs[c, 3], regs[c, 4]
        w_lim = np.int64(1) << (hw.INPUT_BITS + hw.FILTER_GUARD_BITS + bwf - 1)
        y_lim = np.int64(1) << (hw.INPUT_BITS + hw.FILTER_GUARD_BITS - 1)
        for n in range(n_clips):
            w1 = np.int64(0)
            w2 = np.int64(0)
            for t in range(n_steps):
                w = ((x[n, t, axis[c]] << bwf) + ((-a2 * w2 - a1 * w1) >> baf)) >> bb
                out = (w - w2) >> bwf
                if abs(w) >= w_lim or abs(out) >= y_lim:
                    return c
                y[n, t, c] = out
                w2 = w1
                w1 = w
    return -1


def filter_bank(x: np.ndarray, filters: list[ImuFilter], mirror: bool = False) -> np.ndarray:
    """Band-pass outputs (N, T, 15) int64 of (N, T, 3) samples; channel ``c`` filters axis ``c // 5``.

    ``mirror=True`` first runs the filters over the time-reversed clip and keeps the second half
    (rockpool's convention; the chip itself starts from zero state).
    """
    x = np.asarray(x, dtype=np.int64)
    if mirror:
        x = np.concatenate([x[:, ::-1], x], axis=1)
    regs = np.array([[f.b_b, f.b_wf, f.b_af, f.a1, f.a2] for f in filters], dtype=np.int64)
    axis = np.arange(len(filters), dtype=np.int64) * hw.N_AXES // len(filters)
    y = np.zeros((x.shape[0], x.shape[1], len(filters)), dtype=np.int64)
    bad = _filter_kernel(np.ascontiguousarray(x), axis, regs, y)
    if bad >= 0:
        raise ConfigError(f"IMU filter {bad}: register overflow (input too large for the filter's gain)")
    return y[:, x.shape[1] // 2 :] if mirror else y


def scale_encode(y: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """Scale encoder: ``min(|y| >> shift, 15)`` events per step and channel (uint8)."""
    shifts = np.broadcast_to(np.asarray(shift, dtype=np.int64), (y.shape[-1],))
    return np.minimum(np.abs(y) >> shifts, MAX_EVENTS).astype(np.uint8)


def iaf_encode(y: np.ndarray, threshold: np.ndarray | int) -> np.ndarray:
    """Integrate-and-fire encoder: at most one event when the running sum of ``|y|`` crosses a multiple of ``th``."""
    th = np.broadcast_to(np.asarray(threshold, dtype=np.int64), (y.shape[-1],))
    crossed = np.cumsum(np.abs(y), axis=1) // th
    steps = np.diff(crossed, axis=1, prepend=np.zeros_like(crossed[:, :1]))
    return np.minimum(steps, 1).astype(np.uint8)


def encode_imu(x: np.ndarray, cfg: ImuInterfaceConfig | None = None, source: str = "IMU data") -> np.ndarray:
    """Encode (N, T, 3) integer samples at 200 Hz into (N, T, 15) uint8 spike counts, as the chip does."""
    cfg = cfg or ImuInterfaceConfig()
    x = as_imu_samples(x, source)
    if cfg.rotation_removal:
        x = remove_rotation(x, cfg.avg_shift, cfg.hold_period)
    y = filter_bank(x, cfg.filter_registers(), mirror=cfg.filter_start == "mirror")
    return scale_encode(y, cfg.scale_shifts()) if cfg.encoder == "scale" else iaf_encode(y, cfg.thresholds())
