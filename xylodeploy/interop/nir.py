"""NIR <-> `NetworkGraph`: read and write NIR graphs (nir.read / nir.write, HDF5).

NIR nodes are continuous-time; like snnTorch's and Norse's NIR exporters we discretise them with
forward Euler at step ``dt`` (``a = 1 - dt/tau``)::

    CubaLIF: syn[t] = a_s syn[t-1] + (dt/tau_syn) w_in I[t]
             v[t]   = a_m v[t-1] + (dt/tau_mem) (v_leak + r syn[t])
    LIF:     v[t]   = a_m v[t-1] + (dt/tau) (v_leak + r I[t]);   IF: v[t] = v[t-1] + r I[t]
    LI:      as LIF without spikes

Mapping to the graph (``isyn = b_s (isyn + I')``): ``b_s = a_s``, ``alpha = a_m``, incoming
weights times ``k_m k_s / a_s`` with ``k_s = w_in dt/tau_syn``, ``k_m = r dt/tau_mem`` (then
``isyn == k_m syn`` exactly), ``bias = v_leak dt/tau_mem``. Exact, except (each reported): LIF/IF
have no synapse (fastest chip synapse instead), IF has no leak (tau_mem = 1e9 dt), LI has no
spikes (readout with an unreachable threshold: read its Vmem), NIR resets to ``v_reset`` while
the graph subtracts the threshold (exact for files written by `to_nir`, which record it), an
``Affine`` bias through a synapse becomes its steady-state neuron bias. ``Delay`` nodes become relay
populations (uniform whole-step delays only). Supported layout: Input -> [Delay] -> Linear/Affine
-> neuron, any number of weight nodes into a neuron (summed), recurrent weights allowed.

`to_nir` writes one ``CubaLIF`` per population (r = tau_mem/dt, w_in = tau_syn/dt so that
``k_m = k_s = 1``) and one ``Linear`` per connection (weights times ``b_s``), with ``dt``,
``max_spikes`` and ``reset = "subtract"`` in the metadata; `from_nir(to_nir(g))` equals ``g``
within float rounding. Two-synapse populations cannot be written (NIR CubaLIF has one synapse).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError
from xylodeploy.interop._common import Chain, ImportReport, fast_synapse, tau_from_decay
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph

_NEURONS = ("CubaLIF", "LIF", "IF", "LI")
_TAG = "xylodeploy"


def _nir() -> Any:
    return require("nir", "nir", "reading and writing NIR graphs")


def _arr(x: Any, n: int, where: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size not in (1, n):
        raise ConfigError(f"{where}: {a.size} values for {n} neurons")
    return np.broadcast_to(a, (n,)).astype(np.float64)


def _decay(tau: np.ndarray, dt: float, where: str) -> np.ndarray:
    a = 1.0 - dt / tau
    if np.any(a < 0):
        raise ConfigError(f"{where}: tau < dt ({tau.min():.3g} < {dt:.3g} s) is unstable under Euler at this dt")
    return a


def _neuron(name: str, node: Any, n: int, dt: float, rep: ImportReport) -> tuple[dict, np.ndarray]:
    """Population parameters and the per-neuron input scale of one NIR neuron node."""
    kind, meta = type(node).__name__, dict(getattr(node, "metadata", {}) or {}).get(_TAG, {})
    w = f"node '{name}' ({kind})"
    tau_m = _arr(getattr(node, "tau_mem", getattr(node, "tau", np.inf)), n, f"{w} tau")
    a_m = np.ones(n) if kind == "IF" else _decay(tau_m, dt, w)
    k_m = _arr(node.r, n, f"{w} r") * (np.ones(n) if kind == "IF" else dt / tau_m)
    bias = np.zeros(n) if kind == "IF" else _arr(node.v_leak, n, f"{w} v_leak") * dt / tau_m
    if np.any(a_m >= 1):
        rep.note(name, "no leak -> tau_mem = 1e9 dt", exact=False)
    tau_mem = np.where(a_m >= 1, 1e9 * dt, np.where(a_m <= 0, 1e-6 * dt, 0.0))
    mid = (a_m > 0) & (a_m < 1)
    tau_mem[mid] = tau_from_decay(a_m[mid], dt, f"{w} tau_mem")
    if kind == "CubaLIF":
        tau_s = _arr(node.tau_syn, n, f"{w} tau_syn")
        a_s, k_s = _decay(tau_s, dt, w), _arr(node.w_in, n, f"{w} w_in") * dt / tau_s
        if np.any(a_s <= 0):
            raise ConfigError(f"{w}: tau_syn == dt leaves no synaptic memory; not representable")
        tau_syn, scale = tau_from_decay(a_s, dt, f"{w} tau_syn"), k_m * k_s / a_s
    else:
        tau_syn, factor = fast_synapse(dt)
        scale = k_m * factor
        rep.note(name, f"{kind} has no synaptic state -> fastest chip synapse (dash 1)", exact=False)
    if kind == "LI":
        params = {"threshold": 1.0, "max_spikes": 1}  # threshold fixed later from the weights
        rep.note(name, "LI has no spikes -> readout with an unreachable threshold (read vmem_out)", exact=False)
    else:
        params = {
            "threshold": _arr(node.v_threshold, n, f"{w} v_threshold"),
            "max_spikes": int(meta.get("max_spikes", 1)),
        }
        if meta.get("reset") != "subtract":
            rep.note(name, "NIR resets v to v_reset; the graph subtracts the threshold", exact=False)
    return {"tau_mem": tau_mem, "tau_syn": tau_syn, "bias": bias, **params}, scale


def _size(node: Any) -> int:
    for attr in ("tau_mem", "tau", "r", "v_threshold"):
        if hasattr(node, attr) and np.size(getattr(node, attr)) > 1:
            return int(np.size(getattr(node, attr)))
    return 0


def _sources(graph: Any, name: str) -> list[str]:
    return [s for s, t in graph.edges if t == name]


def from_nir(source: Any, *, dt: float | None = None, name: str = "nir") -> tuple[NetworkGraph, ImportReport]:
    """Translate a NIR graph (a ``nir.NIRGraph`` or a file path) into a `NetworkGraph`.

    ``dt`` defaults to the graph's ``metadata["dt"]`` (written by `to_nir`), else 1 ms.
    """
    from xylodeploy.interop.nir_boundary import checked_nir_graph

    nir = _nir()
    g = checked_nir_graph(source, dt)
    dt = float(dt if dt is not None else (g.metadata or {}).get("dt", 1e-3))
    rep = ImportReport("nir")
    inputs = [k for k, v in g.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ConfigError(f"NIR graph: {len(inputs)} Input nodes, expected exactly one")
    n_in = int(np.prod(g.nodes[inputs[0]].input_type["input"]))
    chain = Chain(n_in, dt, rep)  # used for its relay/naming helpers
    alias: dict[str, str] = {inputs[0]: INPUT}
    sizes: dict[str, int] = {INPUT: n_in}
    neurons = [k for k, v in g.nodes.items() if type(v).__name__ in _NEURONS]
    weights: dict[str, list[tuple[str, np.ndarray, np.ndarray | None]]] = {k: [] for k in neurons}
    for k, v in g.nodes.items():
        kind = type(v).__name__
        if kind in ("Linear", "Affine"):
            srcs, tgts = _sources(g, k), [t for s, t in g.edges if s == k]
            if len(srcs) != 1 or not tgts or any(t not in weights for t in tgts):
                raise ConfigError(f"NIR node '{k}' ({kind}): needs one source and neuron targets only")
            w = np.asarray(v.weight, dtype=np.float64)
            b = np.asarray(v.bias, dtype=np.float64).reshape(-1) if kind == "Affine" else None
            for t in tgts:
                weights[t].append((srcs[0], w.T, b))
        elif kind not in (*_NEURONS, "Input", "Output", "Delay"):
            raise ConfigError(f"NIR node '{k}' ({kind}): no Xylo equivalent")
    pops, scales = [], {}
    for k in neurons:
        n = _size(g.nodes[k]) or (weights[k][0][1].shape[1] if weights[k] else 0)
        if n == 0:
            raise ConfigError(f"NIR node '{k}': cannot tell its size (no weights into it)")
        params, scales[k] = _neuron(k, g.nodes[k], n, dt, rep)
        bias_in = [b for _, _, b in weights[k] if b is not None and np.any(b)]
        if bias_in:
            extra = sum(bias_in) * scales[k] * np.exp(-dt / np.asarray(params["tau_syn"]).reshape(-1))
            params["bias"] = params["bias"] + extra / (1 - np.exp(-dt / np.asarray(params["tau_syn"]).reshape(-1)))
            rep.note(k, "Affine bias passes the synapse -> neuron bias of its steady state", exact=False)
        pops.append(LIFPopulation(name=k, size=n, dt=dt, **params))
        alias[k], sizes[k] = k, n
    chain.pops = list(pops)
    conns: list[Connection] = []
    for k in neurons:
        for src, w, _ in weights[k]:
            s = _resolve(g, src, alias, chain, sizes, dt, rep)
            conns.append(Connection(s, k, w * scales[k][None, :]))
    readout = _readout(g, neurons)
    pops = _fix_li(chain.pops, conns, g, readout)
    return NetworkGraph(n_in, tuple(pops), tuple(chain.conns + conns), readout, name), rep


def _resolve(g: Any, src: str, alias: dict, chain: Chain, sizes: dict, dt: float, rep: ImportReport) -> str:
    """Graph source name for NIR node ``src`` (Delay nodes become relay populations)."""
    if src in alias:
        return alias[src]
    node = g.nodes[src]
    if type(node).__name__ != "Delay":
        raise ConfigError(f"NIR node '{src}' ({type(node).__name__}): cannot feed a weight node")
    up = _sources(g, src)
    if len(up) != 1:
        raise ConfigError(f"NIR node '{src}' (Delay): needs exactly one source")
    base = _resolve(g, up[0], alias, chain, sizes, dt, rep)
    steps = np.asarray(node.delay, dtype=np.float64).reshape(-1) / dt
    if np.any(np.abs(steps - np.round(steps)) > 1e-6) or np.ptp(np.round(steps)) != 0:
        raise ConfigError(f"NIR node '{src}' (Delay): only a uniform whole number of steps of dt={dt} is supported")
    chain.src, chain.src_size = base, sizes[base]
    chain.src_max = next((p.max_spikes for p in chain.pops if p.name == base), chain.src_max)
    chain.delay(int(round(float(steps[0]))), src)
    alias[src], sizes[chain.src] = chain.src, sizes[base]
    return chain.src


def _readout(g: Any, neurons: list[str]) -> str:
    feeding = [s for s, t in g.edges if type(g.nodes[t]).__name__ == "Output" and s in neurons]
    if len(feeding) != 1:
        raise ConfigError(f"NIR graph: {len(feeding)} neuron nodes feed the Output, expected exactly one")
    return feeding[0]


def _fix_li(pops: list[LIFPopulation], conns: list[Connection], g: Any, readout: str) -> list[LIFPopulation]:
    """LI readouts get a threshold 4x their largest one-step input (never reached in practice)."""
    out = []
    for p in pops:
        if type(g.nodes.get(p.name)).__name__ == "LI":
            drive = sum(np.abs(c.weight).sum(axis=(0, 2)) for c in conns if c.target == p.name)
            p = p.replace(threshold=4.0 * np.maximum(np.max(drive), 1e-12))
        out.append(p)
    return out


def to_nir(graph: NetworkGraph, path: str | os.PathLike | None = None) -> Any:
    """The NIR graph of ``graph`` (module docstring); written to ``path`` when given."""
    nir = _nir()
    dt = graph.dt
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([graph.n_inputs])})}
    edges: list[tuple[str, str]] = []
    for p in graph.populations:
        if p.n_synapses != 1:
            raise ConfigError(f"population '{p.name}': 2 synapses cannot be written to NIR (CubaLIF has one)")
        b_s = np.exp(-dt / p.tau_syn[:, 0])
        tau_s, tau_m = dt / (1 - b_s), dt / (1 - np.exp(-dt / p.tau_mem))
        meta = {_TAG: {"reset": "subtract", "max_spikes": p.max_spikes}}
        nodes[p.name] = nir.CubaLIF(
            tau_syn=tau_s, tau_mem=tau_m, r=tau_m / dt, v_leak=p.bias * tau_m / dt, v_threshold=p.threshold.copy(),
            v_reset=np.zeros(p.size), w_in=tau_s / dt, metadata=meta,
        )  # fmt: skip
    for c in graph.connections:
        b_s = np.exp(-dt / graph.population(c.target).tau_syn[:, 0])
        wname = f"w.{c.source}.{c.target}"
        nodes[wname] = nir.Linear(weight=(c.weight[:, :, 0] * b_s[None, :]).T.copy())
        edges += [("input" if c.source == INPUT else c.source, wname), (wname, c.target)]
    nodes["output"] = nir.Output(output_type={"output": np.array([graph.n_outputs])})
    edges.append((graph.readout, "output"))
    ng = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt, "name": graph.name})
    if path is not None:
        from xylodeploy.fileio import atomic_write

        with atomic_write(path, "w+b") as fh:  # h5py reads back while writing
            nir.write(fh, ng)
    return ng


__all__ = ["from_nir", "to_nir"]
