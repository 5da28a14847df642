"""Random float graphs and graph equality, shared by the interop tests.

from tests.support.graphs import graphs_equal, random_graph
"""

from __future__ import annotations

import numpy as np

from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph


def random_graph(seed: int = 0, n_syn: int = 1) -> NetworkGraph:
    rng = np.random.default_rng(seed)
    h = LIFPopulation(
        "h", 10, tau_mem=rng.uniform(3e-3, 2e-2, 10), tau_syn=rng.uniform(2e-3, 1e-2, (10, n_syn)),
        threshold=rng.uniform(0.5, 2, 10), bias=rng.normal(0, 0.1, 10), n_synapses=n_syn, max_spikes=3,
    )  # fmt: skip
    o = LIFPopulation("o", 3, tau_mem=5e-3, tau_syn=4e-3, threshold=1.0)
    conns = (
        Connection(INPUT, "h", rng.normal(0, 1, (6, 10, n_syn))),
        Connection("h", "h", rng.normal(0, 0.3, (10, 10))),
        Connection("h", "o", rng.normal(0, 1, (10, 3))),
    )
    return NetworkGraph(6, (h, o), conns, "o", name="rand")


def graphs_equal(a: NetworkGraph, b: NetworkGraph, rtol: float = 0.0) -> bool:
    same = (a.n_inputs, a.readout, [p.name for p in a.populations]) == (
        b.n_inputs,
        b.readout,
        [p.name for p in b.populations],
    )
    for p, q in zip(a.populations, b.populations, strict=True):
        same &= (p.size, p.n_synapses, p.max_spikes) == (q.size, q.n_synapses, q.max_spikes)
        same &= all(
            np.allclose(getattr(p, f), getattr(q, f), rtol=rtol, atol=0)
            for f in ("tau_mem", "tau_syn", "threshold", "bias")
        )
    key = {(c.source, c.target): c.weight for c in b.connections}
    same &= len(key) == len(a.connections)
    return bool(
        same and all(np.allclose(c.weight, key[(c.source, c.target)], rtol=rtol, atol=1e-15) for c in a.connections)
    )
