"""Quantisation reports: what was asked, what the chip got, and how far apart they are.

Plain frozen dataclasses with ``to_dict()`` (JSON-friendly) and ``table()`` (text) so the CLI,
the deployment bundle and tests read the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


def smape(reference: np.ndarray, approx: np.ndarray) -> float:
    """Symmetric mean absolute percentage error [%] over entries where not both are zero.

    ``mean(|a - r| / ((|a| + |r|) / 2)) * 100``; 0.0 when every entry is zero in both.
    """
    r = np.asarray(reference, dtype=np.float64).ravel()
    a = np.asarray(approx, dtype=np.float64).ravel()
    denom = (np.abs(r) + np.abs(a)) / 2
    keep = denom > 0
    if not np.any(keep):
        return 0.0
    return float(np.mean(np.abs(a[keep] - r[keep]) / denom[keep]) * 100)


def snr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Signal-to-noise ratio [dB] of ``approx`` as a copy of ``reference`` (inf if exact, -inf if no signal)."""
    r = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((np.asarray(approx, dtype=np.float64) - r) ** 2))
    signal = float(np.sum(r**2))
    if noise == 0:
        return float("inf")
    if signal == 0:
        return float("-inf")
    return float(10 * np.log10(signal / noise))


def _fmt(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else str(x)


@dataclass(frozen=True)
class TauReport:
    """Requested vs effective time constants of one field of one population."""

    population: str
    field: str  # "tau_mem" or "tau_syn"
    count: int  # number of values (neurons x synapses)
    requested_min: float  # [s]
    requested_max: float  # [s]
    effective_min: float  # [s], dash_to_tau of the chosen dashes
    effective_max: float  # [s]
    dash_min: int
    dash_max: int
    max_rel_error: float  # max |effective - requested| / requested
    mean_rel_error: float
    clipped: int  # values outside the chip's dash range (clipped)
    zero_dash: int  # values that got dash 0 (state wiped every step)

    @classmethod
    def from_arrays(
        cls, population: str, field: str, requested: Any, effective: Any, dash: Any, clipped: int
    ) -> TauReport:
        """Summarise arrays of requested/effective taus [s] and dashes (``clipped``: count)."""
        req = np.asarray(requested, dtype=np.float64).ravel()
        eff = np.asarray(effective, dtype=np.float64).ravel()
        d = np.asarray(dash).ravel()
        rel = np.abs(eff - req) / req
        return cls(
            population=population,
            field=field,
            count=int(req.size),
            requested_min=float(req.min()),
            requested_max=float(req.max()),
            effective_min=float(eff.min()),
            effective_max=float(eff.max()),
            dash_min=int(d.min()),
            dash_max=int(d.max()),
            max_rel_error=float(rel.max()),
            mean_rel_error=float(rel.mean()),
            clipped=int(clipped),
            zero_dash=int(np.sum(d == 0)),
        )


@dataclass(frozen=True)
class TimeConstantReport:
    """Per-population time-constant quantisation report."""

    dt: float  # [s]
    rows: tuple[TauReport, ...]

    @property
    def clipped(self) -> int:
        return sum(r.clipped for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"dt": self.dt, "rows": [asdict(r) for r in self.rows]}

    def table(self) -> str:
        head = "population       field    n     requested [dt]        effective [dt]        dash   max rel err  clipped"
        lines = [head]
        for r in self.rows:
            lines.append(
                f"{r.population:<16} {r.field:<8} {r.count:<5} "
                f"{_fmt(r.requested_min / self.dt):>8}..{_fmt(r.requested_max / self.dt):<10} "
                f"{_fmt(r.effective_min / self.dt):>8}..{_fmt(r.effective_max / self.dt):<10} "
                f"{r.dash_min:>2}..{r.dash_max:<2} {r.max_rel_error:>11.2%}  {r.clipped}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class LayerReport:
    """Weight/threshold/bias quantisation of one population (all weights INTO it)."""

    population: str
    role: str  # "hidden" or "readout"
    method: str  # "global" or "channel"
    scale_min: float  # state scale [chip LSB per float state unit], min over neurons
    scale_max: float
    shifts: dict[str, int]  # weight shift of each incoming group: {"in": .., "rec": ..} or {"out": ..}
    n_weights: int  # incoming weight entries
    clipped_weights: int
    zeroed_weights: int  # nonzero float weights that became 0 (too small for the chosen scale)
    clipped_thresholds: int
    clipped_biases: int
    weight_smape: float  # [%] float weights vs de-quantised integers (nonzero pairs)
    weight_snr_db: float
    threshold_range: tuple[int, int]  # integer thresholds min, max
    bias_range: tuple[int, int]  # integer biases min, max
    threshold_max_rel_error: float  # of de-quantised thresholds
    bias_max_abs_error: float  # [float state units], of de-quantised biases
    worst_drive_ratio: float  # worst-case |per-step input| / state limit (> 1: Isyn can saturate)
    unit_drive_ratio: float  # same with ONE event per source and step (> 1: saturation is likely)
    neurons_at_risk: int  # neurons whose worst-case per-step input exceeds the state limit
    spikes_before_saturation: int  # min over neurons of floor(state max / threshold)

    @property
    def clipped(self) -> int:
        return self.clipped_weights + self.clipped_thresholds + self.clipped_biases

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["threshold_range"] = list(self.threshold_range)
        d["bias_range"] = list(self.bias_range)
        return d


@dataclass(frozen=True)
class CandidateResult:
    """One candidate spec of the calibrated quantiser and how it did against the float model."""

    name: str
    settings: dict[str, Any]  # margins, clipping, headroom of this candidate
    agreement: float  # fraction of calibration clips where chip and float predict the same class
    score_error: float  # RMS of (chip scores / scale - float scores) / std(float scores)
    readout_saturated_frac: float  # fraction of readout state samples at an int16 limit
    weight_shifts: tuple[int, int, int]  # in, rec, out
    readout_smape: float  # [%] readout weights
    hidden_smape: float  # [%] worst hidden population


@dataclass(frozen=True)
class CalibrationReport:
    """What the calibrated quantiser measured, which candidates it tried and why the winner won."""

    n_clips: int
    percentile: float
    state_ranges: dict[str, float]  # population -> max over neurons of the measured |state| range (float units)
    candidates: tuple[CandidateResult, ...]
    winner: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["candidates"] = [{**asdict(c), "weight_shifts": list(c.weight_shifts)} for c in self.candidates]
        return d

    def table(self) -> str:
        lines = [
            f"calibrated on {self.n_clips} clips (state ranges at the {self.percentile:g}th percentile)",
            "candidate                agreement  score err  readout sat  shifts in/rec/out  SMAPE% out/hidden",
        ]
        for c in self.candidates:
            mark = "*" if c.name == self.winner else " "
            shifts = "/".join(map(str, c.weight_shifts))
            smapes = f"{c.readout_smape:6.2f}/{c.hidden_smape:.2f}"
            lines.append(
                f"{mark}{c.name:<23} {c.agreement:>9.2%} {c.score_error:>10.3f} "
                f"{c.readout_saturated_frac:>12.4f}  {shifts:>17}  {smapes}"
            )
        return "\n".join([*lines, f"winner: {self.winner} ({self.reason})"])  # fmt: skip


@dataclass(frozen=True)
class QuantizationReport:
    """Everything the quantisers decided, per population (see `LayerReport`, `TauReport`)."""

    chip: str
    method: str
    weight_shift_in: int
    weight_shift_rec: int
    weight_shift_out: int
    layers: tuple[LayerReport, ...]
    time_constants: TimeConstantReport
    calibration: CalibrationReport | None = None  # set by the calibrated quantiser

    @property
    def clipped(self) -> int:
        """All clipped values: weights, thresholds, biases and dashes."""
        return sum(r.clipped for r in self.layers) + self.time_constants.clipped

    def layer(self, name: str) -> LayerReport:
        return next(r for r in self.layers if r.population == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "method": self.method,
            "weight_shift": {"in": self.weight_shift_in, "rec": self.weight_shift_rec, "out": self.weight_shift_out},
            "layers": [r.to_dict() for r in self.layers],
            "time_constants": self.time_constants.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    def table(self) -> str:
        head = (
            f"chip {self.chip}, method {self.method}, weight shifts in/rec/out = "
            f"{self.weight_shift_in}/{self.weight_shift_rec}/{self.weight_shift_out}\n"
            "population       role     scale             clipped  SMAPE%   SNR dB  threshold        bias        "
            "drive/limit"
        )
        lines = [head]
        for r in self.layers:
            lines.append(
                f"{r.population:<16} {r.role:<8} {_fmt(r.scale_min):>7}..{_fmt(r.scale_max):<8} {r.clipped:>7} "
                f"{r.weight_smape:>7.3f} {_fmt(r.weight_snr_db):>8}  "
                f"{r.threshold_range[0]:>6}..{r.threshold_range[1]:<7} "
                f"{r.bias_range[0]:>4}..{r.bias_range[1]:<5} {r.worst_drive_ratio:>8.3g}"
            )
        cal = "" if self.calibration is None else "\n" + self.calibration.table()
        return "\n".join(lines) + "\n" + self.time_constants.table() + cal
