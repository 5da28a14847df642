"""Activity-based ENERGY estimate in joules, calibrated on published Xylo power figures (docs/energy.md).

Model per chip: the core draws static power ``P_s`` plus a fixed energy ``e`` per master-clock
cycle of work, with the work counted by SynSense's cycle model (`xylodeploy.power.estimate`) at the
measured activity. The cycle model charges 3.5 cycles per input event and input-expansion neuron,
7 cycles per recurrent synaptic event and 19-25 cycles per hidden-neuron update, so the model is
``P = P_s + e_syn * (synaptic events/s) + e_upd * (neuron updates/s)`` with ``e_syn = 3.5-7 e`` and
``e_upd ~ 19 e``::

    P   = P_s + e * cycles_per_step / dt            E_inference = P * n_steps * dt

Calibration (one anchor per chip, each measured with the core clocked at 6.25 MHz): ``e = (P_anchor
- P_s) / 6.25 MHz``, assuming every cycle at the anchor costs the same (if idle cycles are cheaper than
busy ones, the true energy per event is higher). ``P_s`` is not published per
chip; it is bounded by the Xylo Audio 2 ambient-audio figure (whole system < 100 uW), so
``P_s in [0, 100] uW`` and every result is an interval [low, high] with the midpoint as the
estimate. A board measurement (``xylodeploy power --device board``) replaces all of this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from xylodeploy.chips import get_chip
from xylodeploy.power.estimate import Estimate

LABEL = "ESTIMATE (activity-based energy model calibrated on published figures; no hardware measured)"
ANCHOR_CLOCK_HZ = 6.25e6
STATIC_W = (0.0, 100e-6)  # bound from "ambient audio < 100 uW" (Xylo Audio 2), assumed for every chip


@dataclass(frozen=True)
class Anchor:
    """A published power figure used for calibration."""

    chip: str
    power_w: float
    what: str
    source: str


ANCHORS: dict[str, Anchor] = {
    "xylo-audio2": Anchor("xylo-audio2", 277e-6, "logic power of the Braille network at 6.25 MHz",
                          "Pedersen et al., Neuromorphic intermediate representation (NIR), Nat. Commun. 2024"),
    "xylo-imu": Anchor("xylo-imu", 200e-6, "core power (SNN + IMU interface) of the example network at 6.25 MHz",
                       "SynSense, Xylo IMU documentation, power measurement example"),
    "xylo-audio3": Anchor("xylo-audio3", 350e-6, "processing power of the example network in real-time mode",
                          "SynSense, Xylo Audio 3 documentation, power measurement example"),
}  # fmt: skip
CHECKS = (
    "Xylo Audio 2 keyword spotting: 291 uW dynamic power, 6.6 uJ per inference (Bos, Muir et al., Sub-mW "
    "neuromorphic SNN audio processing applications with Rockpool and Xylo, 2022); not used in the fit: the "
    "network's activity and clock are not published with it; the model's dynamic power at a fully busy "
    "6.25 MHz core (177-277 uW) is 5-39 % below it, consistent only with a faster clock or more work",
    "Xylo Audio 2 ambient audio: < 100 uW (SynSense): bounds the static power",
)


def _interval(lo: float, hi: float) -> dict:
    return {"low": lo, "mid": (lo + hi) / 2, "high": hi}


@dataclass(frozen=True)
class EnergyEstimate:
    """Power and energy per inference as intervals (``low``/``mid``/``high``), all labelled estimates."""

    label: str
    chip: str
    activity: str  # "measured" (mean activity of the data) or "worst case"
    cycles_per_step: float
    dt: float
    n_steps: int
    energy_per_cycle_j: dict
    energy_per_synaptic_event_j: dict
    energy_per_neuron_update_j: dict
    static_power_w: dict
    power_w: dict
    energy_per_inference_j: dict
    dynamic_energy_per_inference_j: dict
    real_time: bool | None
    anchor: dict
    checks: tuple

    def to_dict(self) -> dict:
        return asdict(self)


def estimate_energy(est: Estimate, n_steps: int) -> EnergyEstimate:
    """Energy estimate of one inference of ``n_steps`` steps from a cycle-model `Estimate`."""
    chip = get_chip(est.chip).name
    anchor = ANCHORS[chip]
    measured = est.cycles_mean is not None
    cyc = est.cycles_mean if measured else est.cycles_worst
    t = n_steps * est.dt
    # P_s and e are tied by the anchor (e = (P_anchor - P_s) / f): evaluate both ends of the P_s bound
    ends = []
    for p_s in STATIC_W:
        e = (anchor.power_w - p_s) / ANCHOR_CLOCK_HZ
        p = p_s + e * cyc / est.dt
        ends.append((e, p, p * t, e * cyc * n_steps))
    lo, hi = (tuple(min(v) for v in zip(*ends, strict=True)), tuple(max(v) for v in zip(*ends, strict=True)))
    return EnergyEstimate(
        LABEL, chip, "measured" if measured else "worst case", cyc, est.dt, n_steps,
        _interval(lo[0], hi[0]), _interval(3.5 * lo[0], 7 * hi[0]), _interval(19 * lo[0], 25 * hi[0]),
        _interval(*STATIC_W), _interval(lo[1], hi[1]), _interval(lo[2], hi[2]), _interval(lo[3], hi[3]),
        None if not measured else cyc / est.dt <= est.clock_hz, asdict(anchor), CHECKS,
    )  # fmt: skip


def energy_lines(e: EnergyEstimate) -> list[str]:
    """Human-readable lines (µW, µJ) for the CLI."""
    p, en, dyn = e.power_w, e.energy_per_inference_j, e.dynamic_energy_per_inference_j
    return [
        f"{e.label}; {e.activity} activity",
        f"estimated power: {p['mid'] * 1e6:.1f} µW (range {p['low'] * 1e6:.1f}-{p['high'] * 1e6:.1f} µW)",
        f"estimated energy per inference ({e.n_steps} steps of {e.dt * 1e3:g} ms): {en['mid'] * 1e6:.3g} µJ "
        f"(range {en['low'] * 1e6:.3g}-{en['high'] * 1e6:.3g} µJ; dynamic {dyn['mid'] * 1e6:.3g} µJ)",
        f"calibration: {e.anchor['power_w'] * 1e6:g} µW, {e.anchor['what']} ({e.anchor['source']}); "
        f"static power assumed {e.static_power_w['low'] * 1e6:g}-{e.static_power_w['high'] * 1e6:g} µW",
    ]
