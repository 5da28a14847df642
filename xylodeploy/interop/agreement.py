"""Float-vs-chip agreement of an imported network: never a silent wrong answer.

Every import that targets a chip runs example clips (the user's, or Bernoulli rasters generated at an
input rate chosen from the model: `example_clips`) through the float graph (with the chip's hop delay)
and through the quantized spec on the reference simulator, and compares them layer by layer::

    error(layer) = sum |n_chip - n_float| / max(1, sum n_float)     (spike counts per clip and neuron)

A vmem readout (rockpool ``output="vmem"``, NIR ``LI``) is compared on its membrane, chip states divided
by the quantisation scale: ``error = sum |v_chip/s - v_float| / sum |v_float|`` and the clip's class is
``argmax_j mean_t v[t, j]``. Silence is never counted as agreement: a float readout with no activity on
every clip makes the check inconclusive, which is said loudly, and a clip on which the chip's readout is
silent never has "the same winning readout".

`diagnose` names, per layer, the static causes a chip loses accuracy to: time constants that round to
the same dash (snnTorch ``Synaptic`` alpha 0.9 and beta 0.85 both become 1 - 2**-3 = 0.875), time
constants whose decay moves by more than 2 %, thresholds that do not fit the chip's range, hidden
layers that spike at most once per step in the source but up to 31 times on the chip, readouts that
spike more than once per step in the source (rockpool's default) but once on the chip, hidden layers
allowed more than 31 spikes per step in the source (rockpool's 65536), and connections
whose weights all quantise to zero (dead readout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.chips import get_chip
from xylodeploy.ir.graph import NetworkGraph

LOSS_THRESHOLD = 0.10  # warn when a layer's chip spike-count error exceeds this
_RATES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
_TARGET_RATE = 0.1  # hidden firing probability per step the generated clips aim at


def example_clips(graph: NetworkGraph, n_clips: int = 8, t_len: int = 100, seed: int = 0) -> tuple[np.ndarray, str]:
    """Bernoulli input clips ``(n_clips, t_len, n_inputs)`` at the rate that drives the float model best.

    The rate is taken from ``_RATES``: the one whose mean hidden firing probability per step (float
    graph) is nearest to 0.1 (log distance), among those that make the readout respond at all; the
    highest such rate on ties (a model silent at every rate gets the strongest clips). Half the clips
    use the next denser rate of ``_RATES``: a chip loses most where its neurons fire several times
    per step, which a user's denser input reaches and the typical rate may not.
    """
    from xylodeploy.interop._common import simulate_graph

    rng = np.random.default_rng(seed)
    best, best_score = _RATES[2], np.inf
    for rate in _RATES:
        x = (rng.random((2, t_len, graph.n_inputs)) < rate).astype(np.int64)
        out = simulate_graph(graph, x, hop_delay=True)
        hidden = [np.minimum(out[p.name], 1).mean() for p in graph.hidden_populations()]
        h = float(np.mean(hidden)) if hidden else 0.0
        readout_alive = bool(np.any(out[graph.readout]) or np.any(out[f"{graph.readout}.v"]))
        score = abs(np.log(max(h, 1e-4) / _TARGET_RATE)) + (0.0 if readout_alive else 10.0)
        if score <= best_score:  # ties (a model silent at every rate): the strongest drive
            best, best_score = rate, score
    denser = next((r for r in _RATES if r > best), None)
    k = n_clips if denser is None or n_clips < 2 else (n_clips + 1) // 2
    rates = np.array([best] * k + [denser] * (n_clips - k))[:, None, None]
    clips = (rng.random((n_clips, t_len, graph.n_inputs)) < rates).astype(np.int64)
    if k == n_clips:
        return clips, f"{n_clips} generated clip(s) of {t_len} steps, Bernoulli input rate {best} per channel and step"
    return clips, (f"{n_clips} generated clip(s) of {t_len} steps, Bernoulli input rate {best} ({k}) and {denser} "
                   f"({n_clips - k}, denser input) per channel and step")  # fmt: skip


def _decay(tau: np.ndarray, dt: float) -> np.ndarray:
    return np.exp(-dt / np.maximum(np.asarray(tau, dtype=np.float64), 1e-30))


def _tau_causes(pop: Any, chip: Any) -> list[str]:
    """Time constants of ``pop`` that collapse onto one dash or move by more than 2 % in decay."""
    from xylodeploy.quantize.timeconst import dash_to_tau, tau_to_dash

    dt, rng = pop.dt, chip.dash_range
    names = ["tau_mem"] + [f"tau_syn{'' if pop.n_synapses == 1 else s + 1}" for s in range(pop.n_synapses)]
    taus = [pop.tau_mem] + [pop.tau_syn[:, s] for s in range(pop.n_synapses)]
    dashes = [np.clip(tau_to_dash(t, dt), rng.lo, rng.hi) for t in taus]
    out = []
    for i in range(len(taus)):
        for j in range(i + 1, len(taus)):
            a_i, a_j = _decay(taus[i], dt), _decay(taus[j], dt)
            hit = (dashes[i] == dashes[j]) & (np.abs(a_i - a_j) > 1e-3)
            if np.any(hit):
                k = int(np.flatnonzero(hit)[0])
                a_c = float(_decay(dash_to_tau(dashes[i][k], dt), dt))
                out.append(
                    f"{names[i]} and {names[j]} round together: decays {a_i[k]:.4g} and {a_j[k]:.4g} per step both "
                    f"become dash {int(dashes[i][k])} = {a_c:.4g} ({int(hit.sum())} neuron(s))"
                )
    for name, t, d in zip(names, taus, dashes, strict=True):
        a, a_c = _decay(t, dt), _decay(dash_to_tau(d, dt), dt)
        moved = np.abs(a_c - a) > 0.02 * np.maximum(a, 1e-12)
        if np.any(moved & (a > 1e-6)):
            k = int(np.flatnonzero(moved)[0])
            out.append(f"{name}: decay {a[k]:.4g} per step becomes {a_c[k]:.4g} on the chip (dash {int(d[k])})")
    return out


def diagnose(graph: NetworkGraph, qgraph: Any) -> dict[str, list[str]]:
    """Static causes of chip loss, by layer (population or ``source->target`` connection)."""
    chip = get_chip(qgraph.chip)
    causes: dict[str, list[str]] = {}
    for p in graph.populations:
        found = _tau_causes(p, chip)
        q = qgraph.population(p.name)
        if q.scale is not None and not (graph.readout == p.name and _unreachable(p, graph)):
            want = p.threshold * q.scale
            off = np.abs(q.threshold - want) > 0.05 * np.maximum(np.abs(want), 1.0)
            if np.any(off):
                k = int(np.flatnonzero(off)[0])
                found.append(
                    f"threshold out of range: {p.threshold[k]:.4g} needs {want[k]:.4g} chip units, the chip "
                    f"holds {int(q.threshold[k])} (range {chip.threshold_range}; {int(off.sum())} neuron(s))"
                )
        if p.name != graph.readout and p.max_spikes < chip.max_hidden_spikes:
            found.append(
                f"max {p.max_spikes} spike(s) per step in the source model, but the chip's hidden neurons fire up "
                f"to {chip.max_hidden_spikes} per step (floor(v / threshold)) when v exceeds 2 thresholds"
            )
        if p.name != graph.readout and p.max_spikes > chip.max_hidden_spikes:
            found.append(
                f"up to {p.max_spikes} spike(s) per step in the source model, but the chip's hidden neurons fire "
                f"at most {chip.max_hidden_spikes} per step"
            )
        if p.name == graph.readout and p.max_spikes > chip.max_output_spikes:
            found.append(
                f"up to {p.max_spikes} spike(s) per step in the source model's readout, but the chip's readout "
                f"neurons fire at most {chip.max_output_spikes} per step"
            )
        if found:
            causes[p.name] = found
    for c in qgraph.connections:
        fc = next(x for x in graph.connections if (x.source, x.target) == (c.source, c.target))
        if np.any(fc.weight) and not np.any(c.weight):
            what = "dead readout: " if c.target == graph.readout else ""
            causes.setdefault(c.target, []).append(
                f"{what}all weights {c.source}->{c.target} quantise to zero (largest float |w| "
                f"{np.abs(fc.weight).max():.3g})"
            )
    return causes


def _unreachable(pop: Any, graph: NetworkGraph) -> bool:
    """A readout whose threshold its inputs cannot reach in one step by 1000x: a membrane readout."""
    drive = sum(np.abs(c.weight).sum(axis=(0, 2)) for c in graph.connections if c.target == pop.name)
    return bool(np.all(pop.threshold > 1000 * np.maximum(drive, 1e-12)))


@dataclass
class Agreement:
    """Float graph vs chip on example clips: per-layer spike-count errors and the readout's verdict."""

    clips: str
    readout_mode: str  # "spikes" | "vmem"
    layer_error: dict[str, float] = field(default_factory=dict)  # population -> spike-count error
    readout_error: float = float("nan")
    same_class: float = float("nan")  # fraction of (informative) clips with the same winning readout
    informative: int = 0  # clips on which the float readout is active
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = [f"agreement float graph vs chip (reference simulator) on {self.clips}:"]
        for name, err in self.layer_error.items():
            what = (
                "silent in the float graph and on the chip (not judged)"
                if np.isnan(err)
                else f"spike-count error {err:.3f}"
            )
            head.append(f"  layer '{name}': {what}")
        what = "membrane error" if self.readout_mode == "vmem" else "spike-count error"
        if self.informative == 0:
            head.append(f"  readout ({self.readout_mode}): silent in the float graph on every clip (not judged)")
        else:
            head.append(
                f"  readout ({self.readout_mode}): {what} {self.readout_error:.3f}, same winning readout on "
                f"{100 * self.same_class:.0f} % of {self.informative} informative clip(s)"
            )
        return head


def compare(graph: NetworkGraph, spec: Any, clips: Any, *, readout_mode: str = "spikes", scale: float = 1.0,
            causes: dict[str, list[str]] | None = None, threshold: float = LOSS_THRESHOLD,
            clips_text: str = "example clips") -> Agreement:  # fmt: skip
    """Run ``clips`` through ``graph`` (float, hop delay) and ``spec`` (reference) and compare (module doc)."""
    from xylodeploy.backends import get_backend
    from xylodeploy.interop._common import simulate_graph

    x = np.asarray(clips).astype(np.int64)
    fl = simulate_graph(graph, x, hop_delay=True)
    be = get_backend("reference")
    be.load(spec)
    rec = be.run(x, record=True)
    ag, causes = Agreement(clips_text, readout_mode), causes or {}
    ranges = spec.provenance.get("mapping", {}).get("populations", {})
    for p in graph.hidden_populations():
        r = ranges.get(p.name)
        if r is not None:
            f_n, c_n = fl[p.name].sum(1), rec.spikes[:, :, r["start"] : r["stop"]].sum(1)
            ag.layer_error[p.name] = count_error(f_n, c_n) if np.any(f_n) or np.any(c_n) else float("nan")
    if readout_mode == "vmem":
        f, c = fl[f"{graph.readout}.v"], rec.vmem_out / scale
        ag.readout_error = membrane_error(f, c)
        active = np.abs(f).sum(axis=(1, 2)) > 0
        fs, cs = f.mean(1), c.mean(1)
    else:
        fs, cs = fl[graph.readout].sum(1), rec.spikes_out.sum(1)
        ag.readout_error = count_error(fs, cs) if np.any(fs) else float("nan")
        active = fs.sum(1) > 0
    ag.informative = int(active.sum())
    chip_alive = np.abs(cs).sum(1) > 0  # a silent chip readout wins class 0 only by the tie rule: never "same"
    same = (fs.argmax(1) == cs.argmax(1)) & chip_alive
    ag.same_class = float(np.mean(same[active])) if active.any() else float("nan")
    _warn(ag, graph, causes, threshold)
    return ag


def count_error(ref: np.ndarray, other: np.ndarray) -> float:
    """``sum |other - ref| / max(1, sum ref)``: spike counts of ``other`` against the reference ``ref``."""
    return float(np.abs(other - ref).sum() / max(1.0, float(ref.sum())))


def membrane_error(ref: np.ndarray, other: np.ndarray) -> float:
    """``sum |other - ref| / sum |ref|`` (NaN when ``ref`` is all zero: nothing to judge)."""
    return float(np.abs(other - ref).sum() / np.abs(ref).sum()) if np.any(ref) else float("nan")


def _warn(ag: Agreement, graph: NetworkGraph, causes: dict[str, list[str]], threshold: float) -> None:
    """Loud warnings: every layer losing more than ``threshold``, with its static causes."""
    if ag.informative == 0:
        ag.warnings.append(
            f"the float readout '{graph.readout}' is silent on every clip: agreement cannot be judged "
            "(give clips that drive the model with --example-input)"
        )
    bad = {k: v for k, v in ag.layer_error.items() if v > threshold}
    if ag.readout_mode == "vmem" and ag.informative and not np.any(np.isfinite([ag.readout_error])):
        bad[graph.readout] = float("inf")
    elif np.isfinite(ag.readout_error) and ag.readout_error > threshold:
        bad[graph.readout] = ag.readout_error
    for name, err in bad.items():
        why = "; ".join(causes.get(name, [])) or "no single static cause found (accumulated quantisation error)"
        ag.warnings.append(f"layer '{name}' loses {err:.1%} on the chip (threshold {threshold:.0%}): {why}")
    for name, why in causes.items():
        if name not in bad and any("dead readout" in w for w in why):
            ag.warnings.append(f"layer '{name}': {'; '.join(why)}")


__all__ = ["Agreement", "LOSS_THRESHOLD", "compare", "diagnose", "example_clips"]


def readout_mode_of(graph: NetworkGraph, report: Any = None) -> str:
    """``"vmem"`` when the importer says so or the readout threshold is out of reach (`_unreachable`)."""
    mode = getattr(report, "readout", "spikes")
    return "vmem" if mode == "vmem" or _unreachable(graph.readout_population, graph) else "spikes"


def quantize_for_chip(graph: NetworkGraph, chip: str, method: str, clips: Any, readout_mode: str) -> tuple[Any, Any]:
    """``(spec, qgraph)``; a vmem readout is scaled to the 99.9th percentile of ``|v|`` on ``clips``."""
    from xylodeploy.interop._common import simulate_graph
    from xylodeploy.mapping import map_to_spec
    from xylodeploy.quantize import quantize_time_constants, quantize_weights

    vrange = None
    if readout_mode == "vmem":
        v = np.abs(simulate_graph(graph, clips, hop_delay=True)[f"{graph.readout}.v"])
        vrange = float(np.percentile(v, 99.9)) if np.any(v) else 1.0
    tq = quantize_time_constants(graph, chip)
    qgraph = quantize_weights(tq, method=method, readout_vmem_range=vrange)
    return map_to_spec(qgraph), qgraph


def readout_scale(qgraph: Any) -> float:
    """Chip state LSB per float state unit of the readout (mean over its neurons)."""
    s = qgraph.population(qgraph.readout).scale
    return float(np.mean(s)) if s is not None else 1.0
