"""Bit-exact model of the Xylo Audio 3 digital audio front-end (docs/audio3-frontend.md).

Waveform -> 14-bit samples at 48828.125 Hz -> 16 band-pass filters -> divisive normalization /
fixed-threshold spike generation -> raster of ``downsample`` samples per SNN step (dt = 1.024 ms by
default). Every integer stage is exact; ``>>`` is an arithmetic (floor) shift.

* input (host side, not chip): linear interpolation onto the chip's sample grid
  ``t = 0, 1/fs, ... < (n - 1)/fs_in``, then ``q = trunc(scale * x * 2**13)``, saturated to 14 bits;
* filter ``c`` (registers B_b, B_af, a1, a2, B_wf = 8), output delayed one sample::

      w[t] = ((q[t] << 8) + ((-a2 w[t-2] - a1 w[t-1]) >> B_af)) >> B_b
      y[t] = w[t-1] - w[t-3]

* spike generation per channel, in this order every sample (``k`` = low_pass_shift)::

      M = H >> k;  H += |y| - (H >> k)                       (low-pass of |y|)
      th = (max(M, eps) << b1) - (max(M, eps) << b2);  th = max over channels   (divisive norm.)
      th = fixed_threshold                                    (threshold mode)
      V += |y|;  s = V >= th;  V -= s * th

* raster: events summed over blocks of ``downsample`` samples (a last partial block is kept), at most 15.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from xylodeploy.chips import audio3_afe as hw
from xylodeploy.errors import ConfigError

MAX_SAMPLE = 2 ** (hw.INPUT_BITS - 1) - 1


_Filter = Annotated[int, Strict(), Field(ge=0, lt=hw.N_FILTERS)]
_Shift = Annotated[int, Strict(), Field(ge=0, le=31)]


class Audio3Config(BaseModel):
    """Settings of the Xylo Audio 3 front-end (register-level; see the module docstring)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", validate_assignment=True)
    filters: list[_Filter] = Field(default_factory=lambda: list(range(16)))
    spike_gen: Literal["divisive_norm", "threshold"] = "divisive_norm"
    rate_shift: tuple[_Shift, _Shift] = (6, 0)
    low_pass_shift: _Shift = 12
    eps: Annotated[int, Strict(), Field(ge=0)] = 1
    fixed_threshold: Annotated[int, Strict(), Field(ge=1, lt=2**40)] = 2**27
    downsample: Annotated[int, Strict(), Field(ge=1)] = hw.DEFAULT_DOWNSAMPLE
    scale: Annotated[float, Field(gt=0)] = 1.0
    start: Literal["zero", "mirror"] = "zero"

    @field_validator("filters")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if not v or len(set(v)) != len(v):
            raise ValueError(f"filters must be distinct indices 0..15 (got {v})")
        return v

    @model_validator(mode="after")
    def _shifts(self) -> Audio3Config:
        if self.rate_shift[0] <= self.rate_shift[1]:
            raise ValueError(f"rate_shift [b1, b2] needs b1 > b2 (got {list(self.rate_shift)})")
        return self

    @property
    def dt(self) -> float:
        """SNN time step [s]: ``downsample`` samples at 48828.125 Hz."""
        return self.downsample / hw.SAMPLE_RATE_HZ


def quantize_audio(x: np.ndarray, fs_in: float, scale: float = 1.0) -> np.ndarray:
    """Float waveform in [-1, 1] at ``fs_in`` -> 14-bit samples at the chip's rate (saturating)."""
    x = np.asarray(x, dtype=np.float64)
    if fs_in != hw.SAMPLE_RATE_HZ:
        t_in = np.arange(len(x)) / fs_in
        x = np.interp(np.arange(0, (len(x) - 1) / fs_in, 1 / hw.SAMPLE_RATE_HZ), t_in, x)
    q = np.trunc(scale * x * 2 ** (hw.INPUT_BITS - 1)).astype(np.int64)
    return np.clip(q, -MAX_SAMPLE, MAX_SAMPLE)


@njit(cache=True, nogil=True)
def _filters(x: np.ndarray, regs: np.ndarray, y: np.ndarray) -> int:
    """The selected filters over 1-D ``x`` into (T, C) ``y``; returns the first overflowing channel or -1."""
    for c in range(regs.shape[0]):
        wc, bb, baf, a1, a2 = regs[c, 0], regs[c, 1], regs[c, 2], regs[c, 3], regs[c, 4]
        lim = np.int64(1) << (hw.INPUT_BITS + wc + hw.FILTER_WF_BITS - 1)
        w1 = np.int64(0)
        w2 = np.int64(0)
        d1 = np.int64(0)  # delayed outputs w[t-1], w[t-2], w[t-3]
        d2 = np.int64(0)
        d3 = np.int64(0)
        for t in range(x.shape[0]):
            w = ((x[t] << hw.FILTER_WF_BITS) + ((-a2 * w2 - a1 * w1) >> baf)) >> bb
            d3, d2, d1 = d2, d1, w1
            w2, w1 = w1, w
            out = d1 - d3
            if abs(d1) >= lim or abs(out) >= lim:
                return c
            y[t, c] = out
    return -1


def filter_bank(q: np.ndarray, cfg: Audio3Config | None = None) -> np.ndarray:
    """(T, C) int64 filter outputs of 1-D 14-bit samples ``q`` (``cfg.start == "mirror"``: rockpool's convention)."""
    cfg = cfg or Audio3Config()
    q = np.asarray(q, dtype=np.int64)
    if q.size and np.abs(q).max() > MAX_SAMPLE:
        raise ConfigError(f"Xylo Audio 3 front-end: sample magnitude {int(np.abs(q).max())} exceeds {MAX_SAMPLE}")
    if cfg.start == "mirror":
        q = np.concatenate([q[::-1], q])
    regs = np.array([hw.FILTERS[i] for i in cfg.filters], dtype=np.int64)
    y = np.zeros((len(q), len(cfg.filters)), dtype=np.int64)
    bad = _filters(q, regs, y)
    if bad >= 0:
        raise ConfigError(f"Xylo Audio 3 front-end: filter {cfg.filters[bad]} register overflow")
    return y[len(q) // 2 :] if cfg.start == "mirror" else y


@njit(cache=True, nogil=True)
def _spikes(y: np.ndarray, dn: bool, b1: int, b2: int, k: int, eps: int, fixed: int, out: np.ndarray) -> None:
    n_ch = y.shape[1]
    H = np.zeros(n_ch, np.int64)
    V = np.zeros(n_ch, np.int64)
    for t in range(y.shape[0]):
        th_dn = np.int64(0)
        for c in range(n_ch):
            m = max(H[c] >> k, eps)
            H[c] += abs(y[t, c]) - (H[c] >> k)
            th_dn = max(th_dn, (m << b1) - (m << b2))
        th = th_dn if dn else fixed
        for c in range(n_ch):
            V[c] += abs(y[t, c])
            if V[c] >= th:
                out[t, c] = 1
                V[c] -= th


def spike_gen(y: np.ndarray, cfg: Audio3Config | None = None) -> np.ndarray:
    """(T, C) 0/1 events of filter outputs ``y`` (divisive normalization or fixed thresholds)."""
    cfg = cfg or Audio3Config()
    y = np.asarray(y, dtype=np.int64)
    if cfg.start == "mirror":
        y = np.concatenate([y[::-1], y])
    out = np.zeros(y.shape, dtype=np.uint8)
    b1, b2 = cfg.rate_shift
    _spikes(np.ascontiguousarray(y), cfg.spike_gen == "divisive_norm", b1, b2, cfg.low_pass_shift, cfg.eps,
            cfg.fixed_threshold, out)  # fmt: skip
    return out[len(y) // 2 :] if cfg.start == "mirror" else out


def raster(spikes: np.ndarray, downsample: int) -> np.ndarray:
    """Events per block of ``downsample`` samples (the last partial block kept), capped at 15: (S, C) uint8."""
    s = np.asarray(spikes, dtype=np.int64)
    n_blocks = -(-len(s) // downsample)
    pad = np.zeros((n_blocks * downsample - len(s), s.shape[1]), np.int64)
    sums = np.concatenate([s, pad]).reshape(n_blocks, downsample, s.shape[1]).sum(1)
    return np.minimum(sums, hw.MAX_EVENTS).astype(np.uint8)


def encode_audio3(x: np.ndarray, fs_in: float, cfg: Audio3Config | None = None) -> np.ndarray:
    """Encode one float waveform as Xylo Audio 3 encodes it: (S, C) uint8 events per SNN step."""
    cfg = cfg or Audio3Config()
    q = quantize_audio(x, fs_in, cfg.scale)
    return raster(spike_gen(filter_bank(q, cfg), cfg), cfg.downsample)
