"""NIR <-> `NetworkGraph`: read and write NIR graphs (nir.read / nir.write, HDF5).

NIR nodes are continuous-time. How a file is discretised (forward Euler or exact exponential) and at
which ``dt`` is decided by `xylodeploy.interop.nir_conventions.resolve` (user choice, file metadata,
the recognised producer; no silent default ``dt``); neuron nodes become populations in
`xylodeploy.interop.nir_neurons`. With decay ``a`` and gains per the conventions module::

    euler:  syn[t] = a_s syn[t-1] + (dt/tau_syn) w_in I[t];   v[t] = a_m v[t-1] + (dt/tau_mem) (v_leak + r syn[t])
    exact:  syn[t] = a_s (syn[t-1] + w_in I[t]);              v[t] = a_m v[t-1] + c (r syn[t] + v_leak) / r
            (c = r dt / (tau_mem a_m));   LI:  v[t] = a (v[t-1] + c I[t])
    LIF / IF: as CubaLIF without the synapse (IF: a_m = 1, gain r dt);  LI / CubaLI: no spikes

Mapping to the graph (``isyn = b_s (isyn + I')``): ``b_s = a_s``, ``alpha = a_m``, incoming weights
times the synapse and membrane gains (divided by ``a_s`` under Euler, which adds after the decay), so
that ``isyn`` equals the gain times ``syn`` exactly; ``bias`` = the constant term. Exact, except (each
reported): LIF/IF have no synapse (fastest chip synapse instead), IF has no leak (tau_mem = 1e9 dt), LI
and CubaLI have no spikes (membrane readout with an unreachable threshold; an exact LI is the graph's
synapse with a memoryless membrane, exactly), NIR resets to ``v_reset`` while the graph subtracts the
threshold (exact for files written by `to_nir`, which record it), an ``Affine`` bias through a synapse
becomes its steady-state neuron bias. ``Delay`` nodes become relay populations (uniform whole-step
delays only); ``Flatten`` passes through. Supported layout: Input -> [Delay|Flatten] -> Linear/Affine ->
neuron, any number of weight nodes into a neuron (summed), recurrent weights allowed; nested subgraphs are
inlined first (`xylodeploy.interop.nir_flatten`). Every node with no Xylo equivalent is listed at once, by
name and type.

`to_nir` writes one ``CubaLIF`` per population (r = tau_mem/dt, w_in = tau_syn/dt so that
``k_m = k_s = 1``) and one ``Linear`` per connection (weights times ``b_s``), with ``dt``,
``discretization = "euler"``, ``producer = "xylodeploy"``, ``max_spikes`` and ``reset = "subtract"`` in
the metadata; `from_nir(to_nir(g))` equals ``g`` within float rounding. Two-synapse populations cannot
be written (NIR CubaLIF has one synapse).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError
from xylodeploy.interop._common import Chain, ImportReport
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph

_NEURONS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI")
_KNOWN = (*_NEURONS, "Input", "Output", "Delay", "Flatten", "Linear", "Affine")
_TAG = "xylodeploy"


def _nir() -> Any:
    return require("nir", "nir", "reading and writing NIR graphs")


def _numpy_graph(g: Any) -> Any:
    """A copy of an in-memory NIR graph whose tensor parameters (some exporters keep torch tensors) are numpy,
    subgraphs included."""
    import copy

    g = copy.deepcopy(g)
    _tensors_to_numpy(g, 0)
    return g


def _tensors_to_numpy(g: Any, depth: int) -> None:
    import dataclasses

    for node in list(getattr(g, "nodes", {}).values()):
        if type(node).__name__ == "NIRGraph" and depth < 16:
            _tensors_to_numpy(node, depth + 1)
        for f in dataclasses.fields(node) if dataclasses.is_dataclass(node) else ():
            value = getattr(node, f.name, None)
            if hasattr(value, "detach"):
                object.__setattr__(node, f.name, value.detach().cpu().numpy())


def _sources(graph: Any, name: str) -> list[str]:
    return [s for s, t in graph.edges if t == name]


def read_nir(path: str | os.PathLike, rep: ImportReport | None = None) -> Any:
    """``nir.read(path)``; a file failing NIR's type inference (e.g. rockpool's own exports) is read again
    without it (reported); any other failure is one `ConfigError` line naming the file."""
    nir = _nir()
    try:
        return nir.read(path)
    except ValueError as exc:
        if "type" not in str(exc).lower():
            raise ConfigError(f"{path}: not a readable NIR file ({exc})") from None
        first = str(exc).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - h5py/nir raise many types on a bad file
        raise ConfigError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
    try:
        g = nir.read(path, type_check=False)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
    if rep is not None:
        rep.note(str(path), f"NIR type inference failed ({first}); read without type checking")
    return g


def _unsupported(g: Any) -> None:
    """One ConfigError listing every node with no Xylo equivalent, by its own name and type."""
    bad = [(k, type(v).__name__) for k, v in g.nodes.items() if type(v).__name__ not in _KNOWN]
    if bad:
        listed = ", ".join(f"'{k}' ({kind})" for k, kind in bad)
        raise ConfigError(
            f"NIR graph: {len(bad)} node(s) have no Xylo equivalent: {listed} (Xylo runs dense Linear/Affine "
            f"weights into {'/'.join(_NEURONS)} neurons, with Delay and Flatten)"
        )


def from_nir(
    source: Any,
    *,
    dt: float | None = None,
    discretization: str | None = None,
    producer: str | None = None,
    name: str = "nir",
) -> tuple[NetworkGraph, ImportReport]:
    """Translate a NIR graph (a ``nir.NIRGraph`` or a file path) into a `NetworkGraph`.

    ``producer`` (a key of `nir_conventions.PRODUCERS`), ``dt`` and ``discretization`` ("euler" |
    "exact") override what the file says (see `xylodeploy.interop.nir_conventions.resolve`, which raises
    when no ``dt`` can be found).
    """
    from xylodeploy.interop.nir_boundary import check_nir_file, checked_nir_graph
    from xylodeploy.interop.nir_conventions import resolve
    from xylodeploy.interop.nir_flatten import flattened
    from xylodeploy.interop.nir_neurons import population

    nir = _nir()
    rep = ImportReport("nir")
    g = read_nir(check_nir_file(source), rep) if isinstance(source, (str, os.PathLike)) else _numpy_graph(source)
    g = flattened(g)  # subgraphs inlined (interop/nir_flatten.py)
    _unsupported(g)
    g = checked_nir_graph(g, dt)  # structure, shapes, finite values, dt range (interop/nir_boundary.py)
    conv = resolve(g, dt, discretization, producer)
    for msg, certain in [(m, True) for m in conv.messages] + [(m, False) for m in conv.warnings]:
        rep.note("file", msg, exact=certain)
    dt = conv.file_dt  # the file's own time unit; the graph's clock is set at the end
    inputs = [k for k, v in g.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ConfigError(f"NIR graph: {len(inputs)} Input nodes, expected exactly one")
    n_in = _input_channels(g, inputs[0], rep)
    chain = Chain(n_in, dt, rep)  # used for its relay/naming helpers
    alias: dict[str, str] = {inputs[0]: INPUT}
    sizes: dict[str, int] = {INPUT: n_in}
    neurons = [k for k, v in g.nodes.items() if type(v).__name__ in _NEURONS]
    weights = _weight_nodes(g, neurons)
    pops, scales = [], {}
    for k in neurons:
        pop, scales[k] = population(k, g.nodes[k], weights[k], conv, rep)
        pops.append(pop)
        alias[k], sizes[k] = k, pop.size
    chain.pops = list(pops)
    conns: list[Connection] = []
    for k in neurons:
        for src, w, _ in weights[k]:
            s = _resolve(g, src, alias, chain, sizes, dt, rep)
            conns.append(Connection(s, k, w * scales[k][None, :]))
    readout = _readout(g, neurons, rep)
    pops = _reclock(_fix_li(chain.pops, conns, g, readout), conv.dt)
    return NetworkGraph(n_in, tuple(pops), tuple(chain.conns + conns), readout, name), rep


def _reclock(pops: list[LIFPopulation], dt: float) -> list[LIFPopulation]:
    """Populations built in the file's time unit (time steps for sinabs, Lava) on the graph's clock ``dt``
    [s]: every tau scales with the step, so every per-step decay stays as it is."""
    return [
        p if p.dt == dt else p.replace(tau_mem=p.tau_mem * dt / p.dt, tau_syn=p.tau_syn * dt / p.dt, dt=dt)
        for p in pops
    ]


def _input_channels(g: Any, name: str, rep: ImportReport) -> int:
    """Channels of the Input node: the product of its shape, or its last axis where the weights it feeds take
    that many (an exporter that recorded its sample's time axis, e.g. sinabs' ``to_nir`` given ``(B, T, C)``)."""
    shape = np.asarray(g.nodes[name].input_type["input"]).reshape(-1)
    n = int(np.prod(shape))
    takes = {int(np.shape(g.nodes[t].weight)[1]) for s, t in g.edges if s == name and hasattr(g.nodes[t], "weight")}
    if shape.size > 1 and takes == {int(shape[-1])} and n != shape[-1]:
        rep.note(name, f"Input shape {shape.tolist()}: the leading axes are the exporter's sample (time/batch), "
                 f"{int(shape[-1])} channels")  # fmt: skip
        return int(shape[-1])
    if takes and takes != {n}:
        raise ConfigError(f"NIR node '{name}' (Input): shape {shape.tolist()} ({n} values) but the weights it feeds "
                          f"take {sorted(takes)} inputs")  # fmt: skip
    return n


def _weight_nodes(g: Any, neurons: list[str]) -> dict[str, list[tuple[str, np.ndarray, np.ndarray | None]]]:
    """Per neuron node: ``(source, weight (n_in, n_out), bias or None)`` of every Linear/Affine into it."""
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
    return weights


def _resolve(g: Any, src: str, alias: dict, chain: Chain, sizes: dict, dt: float, rep: ImportReport) -> str:
    """Graph source name for NIR node ``src`` (Delay nodes become relay populations)."""
    if src in alias:
        return alias[src]
    node = g.nodes[src]
    if type(node).__name__ == "Flatten" and len(_sources(g, src)) == 1:
        alias[src] = _resolve(g, _sources(g, src)[0], alias, chain, sizes, dt, rep)
        return alias[src]
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


def _readout(g: Any, neurons: list[str], rep: ImportReport) -> str:
    """The neuron node feeding the Output; without an Output node (lava-dl's converter writes none), the one
    neuron node that feeds nothing (said)."""
    if not any(type(v).__name__ == "Output" for v in g.nodes.values()):
        sinks = [k for k in neurons if not any(s == k for s, _ in g.edges)]
        if len(sinks) == 1:
            rep.note(sinks[0], "no Output node in the file: this last neuron node is the readout")
            return sinks[0]
    feeding = [s for s, t in g.edges if type(g.nodes[t]).__name__ == "Output" and s in neurons]
    if len(feeding) != 1:
        raise ConfigError(f"NIR graph: {len(feeding)} neuron nodes feed the Output, expected exactly one")
    return feeding[0]


def _fix_li(pops: list[LIFPopulation], conns: list[Connection], g: Any, readout: str) -> list[LIFPopulation]:
    """LI / CubaLI readouts get a threshold 1e4x their largest one-step input (never reached)."""
    out = []
    for p in pops:
        if type(g.nodes.get(p.name)).__name__ in ("LI", "CubaLI"):
            drive = sum(np.abs(c.weight).sum(axis=(0, 2)) for c in conns if c.target == p.name)
            p = p.replace(threshold=1e4 * np.maximum(np.max(drive) + np.max(np.abs(p.bias)), 1e-12))
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
    meta = {"dt": dt, "name": graph.name, "discretization": "euler", "producer": "xylodeploy"}
    ng = nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
    if path is not None:
        from xylodeploy.io.files import atomic_write

        with atomic_write(path, "w+b") as fh:  # h5py reads back while writing
            nir.write(fh, ng)
    return ng


__all__ = ["from_nir", "read_nir", "to_nir"]
