"""Shared pieces of the importers: the import report, a chain builder and a float simulator.

Every importer turns a framework model into a `NetworkGraph` whose float dynamics are (chip
order, see `xylodeploy.ir.graph`)::

    isyn_s[t] = beta_s * (isyn_s[t-1] + I_s[t])
    v[t]      = alpha * v[t-1] + sum_s isyn_s[t] + bias
    n[t]      = clamp(floor(v / threshold), 0, max_spikes) if v >= threshold;  v -= n * threshold

Where a framework's convention differs, the importer transforms parameters so that the graph
reproduces the framework exactly (e.g. a filter ``syn[t] = b*syn[t-1] + x[t]`` is the graph's
synapse with weights divided by ``b``), or it records the approximation in the `ImportReport`.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write, existing_file
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph
from xylodeploy.quantize.timeconst import dash_to_tau

UNBOUNDED_SPIKES = 2**31 - 1  # spike cap used where the source model has none


@dataclass(frozen=True)
class ImportNote:
    """One statement about how a layer was translated."""

    layer: str  # module path / node name in the source model
    message: str
    exact: bool  # True: an exact rewrite; False: an approximation

    def __str__(self) -> str:
        return f"[{'exact' if self.exact else 'approx'}] {self.layer}: {self.message}"


@dataclass
class ImportReport:
    """What an importer did: the source framework and one note per translation decision."""

    source: str
    notes: list[ImportNote] = field(default_factory=list)
    readout: str = "spikes"  # "vmem": the model is read out through its readout membrane

    @property
    def exact(self) -> bool:
        """True when the graph reproduces the source model's float dynamics exactly."""
        return all(n.exact for n in self.notes)

    def note(self, layer: str, message: str, exact: bool = True) -> None:
        self.notes.append(ImportNote(layer, message, exact))

    def approximations(self) -> list[ImportNote]:
        return [n for n in self.notes if not n.exact]

    def __str__(self) -> str:
        head = f"import from {self.source}: {'exact' if self.exact else 'approximate'}"
        return "\n".join([head, *(f"  {n}" for n in self.notes)])


def chain_inputs(model: Any, leaves: list[tuple[str, Any]], linear_type: type, n_inputs: int | None) -> int:
    """Input channels of a layer chain: ``n_inputs`` if given, else the first linear layer's inputs."""
    if n_inputs is not None:
        return int(n_inputs)
    first = next((m for _, m in leaves if isinstance(m, linear_type)), None)
    if first is None:
        raise ConfigError(f"model '{type(model).__name__}': no Linear layer found")
    return int(first.in_features)


def tau_from_decay(decay: Any, dt: float, where: str) -> np.ndarray:
    """Time constant [s] of a per-step decay factor ``0 < decay < 1``: ``-dt / ln(decay)``."""
    d = np.asarray(decay, dtype=np.float64)
    if np.any(d <= 0) or np.any(d >= 1):
        raise ConfigError(f"{where}: decay factor must be in (0, 1) to map to a time constant, got {_range(d)}")
    return -dt / np.log(d)


def fast_synapse(dt: float) -> tuple[float, float]:
    """``(tau_syn, weight_factor)`` standing in for a neuron without synaptic state.

    The fastest chip synapse (dash 1: ``beta_s = 1/2``); weights are multiplied by
    ``(1 - beta_s) / beta_s = 1`` so an event still delivers its full charge to ``v``, but spread
    over steps (1/2, 1/4, ...) instead of all at once.
    """
    tau = float(dash_to_tau(1, dt))
    beta = np.exp(-dt / tau)
    return tau, float((1 - beta) / beta)


def _range(a: np.ndarray) -> str:
    return f"{a.min():.6g}" if a.size and a.min() == a.max() else f"{a.min():.6g}..{a.max():.6g}"


class Chain:
    """Builds a `NetworkGraph` from a chain ``Linear -> neurons -> Linear -> neurons ...``.

    Consecutive linear maps are composed; a delay inserts relay populations on the current
    source; ``vote`` adds a counting readout. Weights are ``(n_in, n_out)`` (graph orientation).
    """

    def __init__(self, n_inputs: int, dt: float, report: ImportReport) -> None:
        self.n_inputs, self.dt, self.report = int(n_inputs), float(dt), report
        self.pops: list[LIFPopulation] = []
        self.conns: list[Connection] = []
        self.src, self.src_size = INPUT, int(n_inputs)
        self.src_max = UNBOUNDED_SPIKES
        self.weight: np.ndarray | None = None  # pending linear map from src
        self.bias: np.ndarray | None = None  # pending constant current (n_out,)
        self.path = ""  # path of the pending linear layer

    def _name(self, path: str) -> str:
        base = path.replace("/", ".") or "layer"
        name, i = base, 1
        while name == INPUT or any(p.name == name for p in self.pops):
            name, i = f"{base}_{i}", i + 1
        return name

    def torch_linear(self, module: Any, path: str) -> None:
        """Append a torch ``nn.Linear`` (weight ``(out, in)``, optional bias)."""
        bias = None if module.bias is None else module.bias.detach().cpu().double().numpy()
        self.linear(module.weight.detach().cpu().double().numpy().T, bias, path)

    def linear(self, weight: Any, bias: Any, path: str) -> None:
        """Append a dense map ``y = x @ weight + bias`` (composed with a pending one)."""
        w = np.asarray(weight, dtype=np.float64)
        n_in = self.src_size if self.weight is None else self.weight.shape[1]
        if w.ndim != 2 or w.shape[0] != n_in:
            raise ConfigError(f"layer '{path}': weight shape {w.shape} does not take {n_in} inputs")
        b = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
        if self.weight is None:
            self.weight, self.bias, self.path = w, b, path
            return
        prev_b = None if self.bias is None else self.bias @ w
        self.weight = self.weight @ w
        self.bias = prev_b if b is None else (b if prev_b is None else prev_b + b)
        self.report.note(path, f"composed with the preceding linear layer '{self.path}'")
        self.path = f"{self.path}+{path}"

    @property
    def pending_size(self) -> int:
        """Width of the current signal (after any pending linear map)."""
        return self.src_size if self.weight is None else self.weight.shape[1]

    def take_bias(self) -> np.ndarray | None:
        """The pending linear bias (removed from the chain; the caller maps it)."""
        b, self.bias = self.bias, None
        return None if b is None or not np.any(b) else b

    def unreachable_threshold(self, in_scale: Any = 1.0, bias: Any = None) -> float:
        """A threshold the next population never reaches (a membrane readout): ``2e4`` times its largest
        one-step drive through the pending linear map (scaled by ``in_scale``) plus its largest bias."""
        w = self.weight if self.weight is not None else np.zeros((1, 1))  # none: `neurons` refuses next
        drive = float(np.max(np.abs(w).sum(axis=0) * np.abs(in_scale)))
        drive += float(np.max(np.abs(0.0 if bias is None else bias)))
        return 2e4 * max(drive, 1.0)

    def neurons(self, path: str, *, in_scale: Any = 1.0, recurrent: Any = None, **params: Any) -> LIFPopulation:
        """A population fed by the pending linear map times ``in_scale`` (per target neuron)."""
        if self.weight is None:
            raise ConfigError(f"layer '{path}': neurons must follow a linear layer (Xylo has no one-to-one inputs)")
        if self.bias is not None and np.any(self.bias):
            raise ConfigError(f"layer '{path}': internal error, linear bias of '{self.path}' was not mapped")
        pop = LIFPopulation(name=self._name(path), size=self.weight.shape[1], dt=self.dt, **params)
        self.pops.append(pop)
        scale = np.broadcast_to(np.asarray(in_scale, dtype=np.float64), (pop.size,))
        w = self.weight * (scale[None, :, None] if self.weight.ndim == 3 else scale[None, :])
        self.conns.append(Connection(self.src, pop.name, w))
        if recurrent is not None:
            self.conns.append(Connection(pop.name, pop.name, recurrent))
        self.src, self.src_size, self.src_max = pop.name, pop.size, pop.max_spikes
        self.weight = self.bias = None
        return pop

    def delay(self, steps: int, path: str) -> None:
        """Delay the current source's spikes by ``steps`` using relay populations (one per step).

        A relay forwards each step's event count n exactly: input weight 1 into a dash-1
        synapse (isyn = n/2), no membrane memory, threshold 0.49 (n spikes for n <= 31) and a
        recurrent weight -0.4975 cancelling the synaptic residue n/2 of the previous step (0.5%
        short; the 2% threshold margin absorbs that and the int8 rounding of quantisation). On the chip
        every relay is one hidden hop, i.e. one step of delay; the float graph has no delays.
        After quantisation a relay is exact on the chip while ``n * threshold`` fits int16 (the
        quantizer keeps ``2**headroom_bits`` thresholds of room: binary spikes always pass).
        """
        if steps == 0:
            return
        tau_syn, _ = fast_synapse(self.dt)
        for k in range(steps):
            pop = LIFPopulation(
                name=self._name(f"{path}.relay{k}"), size=self.src_size, tau_mem=self.dt * 1e-6,
                tau_syn=tau_syn, threshold=0.49, max_spikes=self.src_max, dt=self.dt,
            )  # fmt: skip
            self.pops.append(pop)
            self.conns.append(Connection(self.src, pop.name, np.eye(self.src_size)))
            self.conns.append(Connection(pop.name, pop.name, -0.4975 * np.eye(self.src_size)))
            self.src = pop.name
        self.report.note(
            path, f"delay of {steps} step(s) -> {steps} relay population(s) of {self.src_size} neurons "
            "(one chip hop each; the float graph itself has no delay)", exact=False,
        )  # fmt: skip

    def vote(self, group: int, path: str, tau_mem: float) -> None:
        """Readout of ``n/group`` neurons, each summing a group with weight 1/group (threshold 1)."""
        if self.weight is not None or self.src == INPUT:
            raise ConfigError(f"layer '{path}': voting must directly follow a spiking layer")
        n = self.src_size
        if group < 1 or n % group:
            raise ConfigError(f"layer '{path}': {n} inputs are not divisible into groups of {group}")
        w = np.zeros((n, n // group))
        w[np.arange(n), np.arange(n) // group] = 1.0 / group
        self.linear(w, None, path)
        tau_syn, factor = fast_synapse(self.dt)
        self.neurons(path, in_scale=np.full(n // group, factor), tau_mem=tau_mem, tau_syn=tau_syn, threshold=1.0)
        self.report.note(
            path, f"average over groups of {group} -> readout neurons (weight 1/{group}, threshold 1, "
            f"tau_mem {tau_mem:.3g} s): spike count over a clip ~ floor(summed votes)", exact=False,
        )  # fmt: skip

    def build(self, name: str, last_path: str) -> NetworkGraph:
        """The graph; the last population is the readout."""
        if self.weight is not None:
            raise ConfigError(
                f"layer '{self.path}': the model ends with a linear layer; Xylo needs neurons at the output"
            )
        if len(self.pops) < 2:
            raise ConfigError(f"model '{last_path}': Xylo needs at least one hidden and one readout layer")
        last = self.pops[-1].name
        if any(c.source == c.target == last for c in self.conns):
            raise ConfigError(
                f"layer '{last}': Xylo readout neurons have no recurrent weights (end with a non-recurrent layer)"
            )
        return NetworkGraph(self.n_inputs, tuple(self.pops), tuple(self.conns), self.pops[-1].name, name)


def refuse_unsupported(leaves: list[tuple[str, Any]], reason: Any) -> None:
    """One ConfigError naming every layer ``reason(path, module)`` refuses (None: supported), all at once."""
    bad = [msg for path, mod in leaves if (msg := reason(path, mod)) is not None]
    if len(bad) == 1:
        raise ConfigError(bad[0])
    if bad:
        raise ConfigError(f"{len(bad)} layers have no Xylo equivalent: " + "; ".join(bad))


def fold_batchnorm(chain: Chain, mod: Any, path: str) -> None:
    """Fold an inference-time ``BatchNorm1d`` into the pending Linear: ``W' = s W``, ``b' = s (b - mu) + beta``
    with ``s = gamma / sqrt(var + eps)`` (running statistics; exact)."""
    if chain.weight is None or chain.weight.ndim != 2:
        raise ConfigError(f"layer '{path}' ({type(mod).__name__}): batch norm must directly follow a Linear layer")
    if not getattr(mod, "track_running_stats", False) or mod.running_mean is None:
        raise ConfigError(f"layer '{path}' ({type(mod).__name__}): needs running statistics to fold at inference")
    mu, var = (t.detach().cpu().double().numpy() for t in (mod.running_mean, mod.running_var))
    gamma = mod.weight.detach().cpu().double().numpy() if mod.weight is not None else np.ones_like(mu)
    shift = mod.bias.detach().cpu().double().numpy() if mod.bias is not None else np.zeros_like(mu)
    if mu.shape[0] != chain.weight.shape[1]:
        raise ConfigError(f"layer '{path}': {mu.shape[0]} features after a Linear with {chain.weight.shape[1]}")
    s = gamma / np.sqrt(var + float(mod.eps))
    chain.weight = chain.weight * s[None, :]
    chain.bias = s * ((0.0 if chain.bias is None else chain.bias) - mu) + shift
    chain.report.note(path, f"folded into '{chain.path}' (running statistics: W' = s W, b' = s (b - mean) + beta)")


def simulate_graph(graph: NetworkGraph, raster: Any, *, hop_delay: bool = False) -> dict[str, np.ndarray]:
    """Float simulation of ``graph`` (module docstring) on ``raster`` (B, T, Nin) or (T, Nin).

    Populations update in topological order; a feed-forward connection delivers the source's
    spikes of the same step, a recurrent one those of the previous step. ``hop_delay=True``
    delays every population->population connection by one step, as the chip does.

    Returns:
        population name -> spike counts (B, T, n), and ``"<name>.v"`` -> membrane after reset.
    """
    x = np.asarray(raster, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    if x.ndim != 3 or x.shape[2] != graph.n_inputs:
        raise ConfigError(f"raster shape {np.shape(raster)}: expected (B, T, {graph.n_inputs})")
    b, t_len, _ = x.shape
    order = [graph.population(n) for n in graph.topological_order()]
    st = {p.name: (np.zeros((b, p.size, p.n_synapses)), np.zeros((b, p.size))) for p in order}
    spk = {p.name: np.zeros((b, t_len, p.size)) for p in order}
    vrec = {p.name: np.zeros((b, t_len, p.size)) for p in order}
    for t in range(t_len):
        for p in order:
            isyn, v = st[p.name]
            drive = np.zeros_like(isyn)
            for c in graph.incoming(p.name):
                if c.source == INPUT:
                    s = x[:, t]
                else:
                    lag = 1 if (c.is_recurrent or hop_delay) else 0
                    s = spk[c.source][:, t - lag] if t - lag >= 0 else np.zeros((b, c.weight.shape[0]))
                drive[..., : c.weight.shape[2]] += np.einsum("bi,ijs->bjs", s, c.weight)
            beta = np.exp(-p.dt / p.tau_syn)
            isyn = beta * (isyn + drive)
            v = np.exp(-p.dt / p.tau_mem) * v + isyn.sum(axis=2) + p.bias
            n = np.where(v >= p.threshold, np.clip(np.floor(v / p.threshold), 0, p.max_spikes), 0.0)
            v = v - n * p.threshold
            st[p.name] = (isyn, v)
            spk[p.name][:, t], vrec[p.name][:, t] = n, v
    return {**spk, **{f"{k}.v": a for k, a in vrec.items()}}


GRAPH_FORMAT = "xylodeploy-graph"
GRAPH_SCHEMA_VERSION = 1
_META = "__meta__"
_POP_ARRAYS = ("tau_mem", "tau_syn", "threshold", "bias")


def save_graph(graph: NetworkGraph, path: str | os.PathLike, report: ImportReport | None = None) -> None:
    """Write ``graph`` atomically as an ``.npz`` archive (float64 arrays + JSON ``__meta__``).

    Members: ``pop<i>.<field>`` for each population field, ``conn<j>.weight``; the metadata holds
    the format name, schema version, names, sizes, dt, the readout and the import notes.
    """
    meta = {
        "format": GRAPH_FORMAT, "schema_version": GRAPH_SCHEMA_VERSION, "name": graph.name,
        "n_inputs": graph.n_inputs, "readout": graph.readout,
        "populations": [
            {"name": p.name, "size": p.size, "n_synapses": p.n_synapses, "max_spikes": p.max_spikes, "dt": p.dt}
            for p in graph.populations
        ],
        "connections": [{"source": c.source, "target": c.target} for c in graph.connections],
        "import_notes": [] if report is None else [str(n) for n in report.notes],
    }  # fmt: skip
    arrays = {f"pop{i}.{f}": getattr(p, f) for i, p in enumerate(graph.populations) for f in _POP_ARRAYS}
    arrays |= {f"conn{j}.weight": c.weight for j, c in enumerate(graph.connections)}
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{_META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def load_graph(path: str | os.PathLike) -> NetworkGraph:
    """Read a graph written by `save_graph`; ConfigError naming the file and field on any problem."""
    p = existing_file(path, "graph file")
    from xylodeploy.io.npzfile import json_meta, read_npz

    members = read_npz(p, "xylodeploy graph file")
    if _META not in members:
        raise ConfigError(f"{p}: no '{_META}' block: not a xylodeploy graph file")
    meta = json_meta(members[_META], f"{p}: '{_META}'")
    for key, arr in members.items():
        if key != _META and (arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr))):
            what = f"{arr.dtype}, NaN/inf" if arr.dtype.kind in "fiu" else str(arr.dtype)
            raise ConfigError(f"{p}: member '{key}' must hold finite real numbers (got {what})")
    if not isinstance(meta, dict) or meta.get("format") != GRAPH_FORMAT:
        raise ConfigError(f"{p}: field 'format' is not '{GRAPH_FORMAT}'")
    if meta.get("schema_version") != GRAPH_SCHEMA_VERSION:
        raise ConfigError(
            f"{p}: field 'schema_version' = {meta.get('schema_version')!r}, expected {GRAPH_SCHEMA_VERSION}"
        )
    try:
        pops = [
            LIFPopulation(**e, **{f: members[f"pop{i}.{f}"] for f in _POP_ARRAYS})
            for i, e in enumerate(meta["populations"])
        ]
        conns = [
            Connection(e["source"], e["target"], members[f"conn{j}.weight"]) for j, e in enumerate(meta["connections"])
        ]
        return NetworkGraph(
            int(meta["n_inputs"]), tuple(pops), tuple(conns), meta["readout"], meta.get("name", "network")
        )
    except KeyError as exc:
        raise ConfigError(f"{p}: field {exc} is missing") from None
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError, ConfigError) as exc:
        raise ConfigError(f"{p}: {str(exc)[:300]}") from None


def graph_to_spec(graph: NetworkGraph, chip: str, method: str = "channel") -> Any:
    """Quantize and map ``graph`` for ``chip`` (xylodeploy.quantize + xylodeploy.mapping) -> XyloSpec."""
    from xylodeploy.mapping import map_to_spec
    from xylodeploy.quantize import quantize_time_constants, quantize_weights

    return map_to_spec(quantize_weights(quantize_time_constants(graph, chip), method=method))


__all__ = [
    "Chain", "ImportNote", "ImportReport", "UNBOUNDED_SPIKES", "fast_synapse", "fold_batchnorm", "graph_to_spec",
    "load_graph",
    "save_graph",
    "simulate_graph", "tau_from_decay",
]  # fmt: skip


def reference_spike_counts(spec: Any, clips: Any) -> np.ndarray:
    """Readout spike counts per clip, ``(B, Nout)``, of ``spec`` on the reference simulator."""
    from xylodeploy.backends import get_backend

    backend = get_backend("reference")
    backend.load(spec)
    return backend.run(np.asarray(clips).astype(np.int64)).spikes_out.astype(np.int64).sum(axis=1)
