"""Configuration of the Xylo IMU input interface as typed data (docs/imu-frontend.md).

`ImuInterfaceConfig` is what a run config's ``data.interface`` section holds and what the board
receives: filter bands (or their register values), encoder choice, shifts and thresholds. Band
edges are turned into filter registers by `design_bandpass`:

    b, a  = butterworth(order 1, [lo, hi] Hz, band-pass, fs = 200 Hz)   (b = b0 [1, 0, -1])
    B_b   = floor(log2(1 / |b0|)),  B_wf = 8,  B_af = 15 - B_b
    a1, a2 = trunc(2**15 * a[1]), trunc(2**15 * a[2])

`to_samna` returns the register dict in the field names of samna's ``xyloImu`` input-interface
configuration, for the board driver to write.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from xylodeploy.chips import imu_if as hw
from xylodeploy.errors import ConfigError

_SHIFT = Annotated[int, Strict(), Field(ge=0, le=2**hw.FILTER_B_BITS - 1)]
_TAP = Annotated[int, Strict(), Field(ge=-(2 ** (hw.FILTER_TAP_BITS - 1)), le=2 ** (hw.FILTER_TAP_BITS - 1) - 1)]
_SCALE = Annotated[int, Strict(), Field(ge=0, le=2**hw.SCALE_SHIFT_BITS - 1)]
_THRESH = Annotated[int, Strict(), Field(ge=1, le=2**hw.IAF_THRESHOLD_BITS - 1)]
DEFAULT_BANDS: tuple[tuple[float, float], ...] = ((1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 32.0))
B_WF_DEFAULT = hw.FILTER_GUARD_BITS - 1


class ImuFilter(BaseModel):
    """Register values of one band-pass filter: shifts ``b_b``, ``b_wf``, ``b_af`` and taps ``a1``, ``a2``."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", frozen=True)
    b_b: _SHIFT = 6
    b_wf: _SHIFT = B_WF_DEFAULT
    b_af: _SHIFT = 9
    a1: _TAP = -36565
    a2: _TAP = 31754


def design_bandpass(lo: float, hi: float, fs: float = hw.SAMPLE_RATE_HZ) -> ImuFilter:
    """Quantized first-order Butterworth band-pass ``[lo, hi]`` Hz as IMU IF filter registers."""
    from scipy.signal import butter

    if not 0 < lo < hi < fs / 2:
        raise ConfigError(f"IMU filter band: need 0 < lo < hi < {fs / 2:g} Hz (got [{lo}, {hi}])")
    b, a = butter(1, (lo, hi), btype="bandpass", fs=fs, output="ba")
    b_b = int(np.log2(1 / abs(b[0])))
    b_af = hw.INPUT_BITS - b_b - 1
    taps = (2.0 ** (b_af + b_b) * a).astype(np.int64)
    try:
        return ImuFilter(b_b=b_b, b_wf=B_WF_DEFAULT, b_af=b_af, a1=int(taps[1]), a2=int(taps[2]))
    except ValueError as exc:
        raise ConfigError(f"IMU filter band [{lo}, {hi}] Hz does not fit the filter registers: {exc}") from None


def _per_channel(value: int | list[int], name: str) -> list[int]:
    vals = [value] * hw.N_CHANNELS if isinstance(value, int) else list(value)
    if len(vals) != hw.N_CHANNELS:
        raise ValueError(f"{name} must be one integer or {hw.N_CHANNELS} integers (got {len(vals)})")
    return vals


class ImuInterfaceConfig(BaseModel):
    """Settings of the IMU IF. Channels are axis-major: channel ``5 * axis + band``.

    Attributes:
        bands: 5 pass bands [lo, hi] Hz used on every axis, or 15 (one per channel).
        filters: 15 filter register sets; overrides ``bands`` when given.
        encoder: ``scale`` (``min(|y| >> shift, 15)`` events per step) or ``iaf`` (integrate-and-fire).
        scale_shift: right shift of the scale encoder (one or 15 values, 0..31).
        iaf_threshold: integrate-and-fire threshold (one or 15 values, 1..2**31-1).
        rotation_removal: run the rotation-removal block (``bypass_jsvd`` is its negation).
        avg_shift: covariance low-pass shift ``k`` (window ~ 2**k samples).
        hold_period: steps between covariance samples fed to the SVD.
        filter_start: ``zero`` = filters start from reset (the chip after reset); ``mirror`` = first
            run over the time-reversed clip (rockpool's simulation convention, no start transient).
    """

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", validate_assignment=True)
    bands: list[tuple[float, float]] = Field(default_factory=lambda: [list(b) for b in DEFAULT_BANDS])
    filters: list[ImuFilter] | None = None
    encoder: Literal["scale", "iaf"] = "scale"
    scale_shift: _SCALE | list[_SCALE] = 5
    iaf_threshold: _THRESH | list[_THRESH] = 1024
    rotation_removal: Annotated[bool, Strict()] = True
    avg_shift: Annotated[int, Strict(), Field(ge=0, le=2**hw.AVG_SHIFT_BITS - 1)] = 4
    hold_period: Annotated[int, Strict(), Field(ge=1, le=2**hw.HOLD_PERIOD_BITS - 1)] = 10
    filter_start: Literal["zero", "mirror"] = "zero"

    @field_validator("bands")
    @classmethod
    def _bands_valid(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(v) not in (hw.N_CHANNELS // hw.N_AXES, hw.N_CHANNELS):
            raise ValueError(f"bands must list 5 (per axis) or 15 [lo, hi] pairs (got {len(v)})")
        for lo, hi in v:
            if not 0 < lo < hi < hw.SAMPLE_RATE_HZ / 2:
                raise ValueError(f"each band needs 0 < lo < hi < {hw.SAMPLE_RATE_HZ / 2:g} Hz (got [{lo}, {hi}])")
        return v

    @model_validator(mode="after")
    def _lengths(self) -> ImuInterfaceConfig:
        if self.filters is not None and len(self.filters) != hw.N_CHANNELS:
            raise ValueError(f"filters must list {hw.N_CHANNELS} register sets (got {len(self.filters)})")
        _per_channel(self.scale_shift, "scale_shift")
        _per_channel(self.iaf_threshold, "iaf_threshold")
        return self

    def filter_registers(self) -> list[ImuFilter]:
        """The 15 filter register sets (designed from ``bands`` unless ``filters`` is given)."""
        if self.filters is not None:
            return list(self.filters)
        bands = self.bands * hw.N_AXES if len(self.bands) * hw.N_AXES == hw.N_CHANNELS else self.bands
        return [design_bandpass(lo, hi) for lo, hi in bands]

    def scale_shifts(self) -> np.ndarray:
        return np.asarray(_per_channel(self.scale_shift, "scale_shift"), dtype=np.int64)

    def thresholds(self) -> np.ndarray:
        return np.asarray(_per_channel(self.iaf_threshold, "iaf_threshold"), dtype=np.int64)

    def to_samna(self) -> dict:
        """Register values named as samna's ``xyloImu.configuration.InputInterfaceConfig`` fields."""
        regs = self.filter_registers()
        return {
            "enable": True,
            "bpf_bb_values": [f.b_b for f in regs],
            "bpf_bwf_values": [f.b_wf for f in regs],
            "bpf_baf_values": [f.b_af for f in regs],
            "bpf_a1_values": [f.a1 for f in regs],
            "bpf_a2_values": [f.a2 for f in regs],
            "scale_values": self.scale_shifts().tolist(),
            "iaf_threshold_values": self.thresholds().tolist(),
            "select_iaf_output": self.encoder == "iaf",
            "bypass_jsvd": not self.rotation_removal,
            "estimator_k_setting": self.avg_shift,
            "update_matrix_threshold": self.hold_period,
        }

    @classmethod
    def from_samna(cls, regs: dict) -> ImuInterfaceConfig:
        """Inverse of `to_samna` (reads the same keys; ``enable`` and unknown keys are ignored)."""
        keys = ("bpf_bb_values", "bpf_bwf_values", "bpf_baf_values", "bpf_a1_values", "bpf_a2_values")
        filters = [
            ImuFilter(b_b=bb, b_wf=bwf, b_af=baf, a1=a1, a2=a2)
            for bb, bwf, baf, a1, a2 in zip(*(regs[k] for k in keys), strict=True)
        ]
        return cls(
            filters=filters,
            encoder="iaf" if regs["select_iaf_output"] else "scale",
            scale_shift=list(regs["scale_values"]),
            iaf_threshold=list(regs["iaf_threshold_values"]),
            rotation_removal=not regs["bypass_jsvd"],
            avg_shift=int(regs["estimator_k_setting"]),
            hold_period=int(regs["update_matrix_threshold"]),
        )


def write_interface(path, regs: dict) -> None:
    """Write the `to_samna` register dict as JSON atomically (read back with `read_interface`)."""
    import json

    from xylodeploy.io.files import atomic_write

    with atomic_write(path, "w") as fh:
        fh.write(json.dumps({"format": "xylodeploy.imu_interface/1", "registers": regs}, indent=1))


def read_interface(path) -> ImuInterfaceConfig:
    """The `ImuInterfaceConfig` stored by `write_interface` (ConfigError on a bad file)."""
    import json

    from pydantic import ValidationError

    from xylodeploy.io.files import existing_file

    p = existing_file(path, "IMU interface file")
    try:
        doc = json.loads(p.read_text())
        return ImuInterfaceConfig.from_samna(doc["registers"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ConfigError(
            f"{p}: not a valid IMU interface file ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
