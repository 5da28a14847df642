"""NIR import/export: round trips, Euler discretisation against a naive loop, refusals."""

from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from tests.support.graphs import graphs_equal, random_graph  # noqa: E402
from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.interop._common import simulate_graph  # noqa: E402
from xylodeploy.interop.nir import from_nir, to_nir  # noqa: E402


def test_round_trip_through_a_file_is_equal_within_float_rounding(tmp_path):
    g = random_graph(4)
    to_nir(g, tmp_path / "g.nir")
    back, report = from_nir(tmp_path / "g.nir")
    assert report.exact
    assert graphs_equal(g, back, rtol=1e-12)
    x = (np.random.default_rng(0).random((2, 60, 6)) < 0.3).astype(float)
    a, b = simulate_graph(g, x), simulate_graph(back, x)
    np.testing.assert_array_equal(a["o"], b["o"])


def test_two_synapse_population_cannot_be_written():
    with pytest.raises(ConfigError, match="population 'h': 2 synapses"):
        to_nir(random_graph(0, n_syn=2))


def _cuba_graph(v_reset=None, delay=None) -> nir.NIRGraph:
    rng = np.random.default_rng(7)
    dt = 1e-3
    nodes = {
        "in": nir.Input(input_type={"input": np.array([3])}),
        "w1": nir.Affine(weight=rng.normal(1, 0.5, (5, 3)), bias=np.zeros(5)),
        "n1": nir.CubaLIF(tau_syn=np.full(5, 4 * dt), tau_mem=np.full(5, 8 * dt), r=np.full(5, 8.0), v_leak=np.zeros(5),
                          v_threshold=np.full(5, 1.0), v_reset=v_reset, w_in=np.full(5, 4.0)),
        "w2": nir.Linear(weight=rng.normal(1, 0.5, (2, 5))),
        "n2": nir.LIF(tau=np.full(2, 5 * dt), r=np.full(2, 5.0), v_leak=np.zeros(2), v_threshold=np.full(2, 1.0)),
        "out": nir.Output(output_type={"output": np.array([2])}),
    }  # fmt: skip
    edges = [("in", "w1"), ("w1", "n1"), ("n1", "w2"), ("w2", "n2"), ("n2", "out")]
    if delay is not None:
        nodes["d"] = nir.Delay(delay=np.full(5, delay))
        edges = [("in", "w1"), ("w1", "n1"), ("n1", "d"), ("d", "w2"), ("w2", "n2"), ("n2", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})


def test_cubalif_matches_a_naive_euler_loop_with_subtractive_reset():
    ng = _cuba_graph()
    g, report = from_nir(ng)
    assert not report.exact and any("v_reset" in n.message for n in report.notes)
    x = (np.random.default_rng(1).random((80, 3)) < 0.4).astype(float)
    w, n = ng.nodes["w1"].weight, ng.nodes["n1"]
    syn, v, spikes = np.zeros(5), np.zeros(5), []
    for xt in x:  # snnTorch's NIR convention: forward Euler with dt
        syn = syn + 1e-3 / n.tau_syn * (-syn + n.w_in * (w @ xt))
        v = v + 1e-3 / n.tau_mem * (n.v_leak - v + n.r * syn)
        s = (v >= n.v_threshold).astype(float)
        v = v - s * n.v_threshold
        spikes.append(s)
    np.testing.assert_array_equal(simulate_graph(g, x)["n1"][0], np.array(spikes))


def test_delay_becomes_relays_and_bad_delay_is_refused():
    g, _ = from_nir(_cuba_graph(delay=2e-3))
    assert [p.name for p in g.populations if "relay" in p.name] == ["d.relay0", "d.relay1"]
    with pytest.raises(ConfigError, match="node 'd' \\(Delay\\): only a uniform whole number"):
        from_nir(_cuba_graph(delay=1.5e-3))


def test_unsupported_node_is_refused_by_name():
    ng = _cuba_graph()
    ng.nodes["w2"] = nir.Conv1d(input_shape=5, weight=np.ones((2, 1, 3)), stride=1, padding=0, dilation=1,
                                groups=1, bias=np.zeros(2))  # fmt: skip
    with pytest.raises(ConfigError, match="1 node\\(s\\) have no Xylo equivalent: 'w2' \\(Conv1d\\)"):
        from_nir(ng)


def test_in_memory_graph_with_torch_tensor_parameters_imports_like_numpy(tmp_path):
    """Some exporters (sinabs) keep torch tensors in the node fields: imported as numpy, the user's graph untouched."""
    import dataclasses

    import nir
    import torch

    g = random_graph(4)
    to_nir(g, tmp_path / "g.nir")
    ref, _ = from_nir(tmp_path / "g.nir")
    graph = nir.read(tmp_path / "g.nir")
    for node in graph.nodes.values():
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                object.__setattr__(node, f.name, torch.as_tensor(value))
    back, _ = from_nir(graph)
    assert graphs_equal(ref, back, rtol=1e-12)
    assert any(
        isinstance(getattr(n, f.name), torch.Tensor) for n in graph.nodes.values() for f in dataclasses.fields(n)
    )


def _lif(n: int):
    return nir.LIF(tau=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.zeros(n), v_threshold=np.ones(n))


def test_a_nested_subgraph_imports_as_its_flat_equivalent(tmp_path):
    """NIR subgraphs (a recurrent layer written as its own NIRGraph) are inlined: same graph, same spikes."""
    rng = np.random.default_rng(0)
    w1, wr, w2 = rng.normal(0, 1, (6, 8)), rng.normal(0, 0.3, (6, 6)), rng.normal(0, 1, (3, 6))

    def io(n: int, kind: str):
        return nir.Input(input_type={"input": np.array([n])}) if kind == "in" else \
            nir.Output(output_type={"output": np.array([n])})  # fmt: skip

    flat = nir.NIRGraph(
        nodes={"input": io(8, "in"), "w1": nir.Linear(weight=w1), "rec.lif": _lif(6), "rec.w": nir.Linear(weight=wr),
               "w2": nir.Linear(weight=w2), "out": _lif(3), "output": io(3, "out")},
        edges=[("input", "w1"), ("w1", "rec.lif"), ("rec.lif", "rec.w"), ("rec.w", "rec.lif"), ("rec.lif", "w2"),
               ("w2", "out"), ("out", "output")], metadata={"dt": 1e-3}, type_check=False)  # fmt: skip
    sub = nir.NIRGraph(
        nodes={"input": io(6, "in"), "lif": _lif(6), "w": nir.Linear(weight=wr), "output": io(6, "out")},
        edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")], type_check=False)  # fmt: skip
    nested = nir.NIRGraph(
        nodes={"input": io(8, "in"), "w1": nir.Linear(weight=w1), "rec": sub, "w2": nir.Linear(weight=w2),
               "out": _lif(3), "output": io(3, "out")},
        edges=[("input", "w1"), ("w1", "rec"), ("rec", "w2"), ("w2", "out"), ("out", "output")],
        metadata={"dt": 1e-3}, type_check=False)  # fmt: skip
    nir.write(tmp_path / "nested.nir", nested)
    x = (rng.random((2, 50, 8)) < 0.3).astype(float)
    want = simulate_graph(from_nir(flat)[0], x)["out"]
    assert want.sum() > 50
    for source in (nested, tmp_path / "nested.nir"):
        g, _ = from_nir(source)
        assert g.sizes == {"rec.lif": 6, "out": 3}
        assert ("rec.lif", "rec.lif") in [(c.source, c.target) for c in g.connections]  # the recurrence
        np.testing.assert_array_equal(simulate_graph(g, x)["out"], want)


def test_hostile_subgraphs_are_one_line_refusals():
    def box(inner, depth: int):
        for _ in range(depth):
            inner = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}), "g": inner,
                                        "o": nir.Output(output_type={"output": np.array([2])})},
                                 edges=[("i", "g"), ("g", "o")], type_check=False)  # fmt: skip
        return inner

    leaf = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}), "l": _lif(2),
                               "o": nir.Output(output_type={"output": np.array([2])})},
                        edges=[("i", "l"), ("l", "o")], metadata={"dt": 1e-3}, type_check=False)  # fmt: skip
    with pytest.raises(ConfigError, match="nested more than 16 deep") as err:
        from_nir(box(leaf, 40))
    assert "\n" not in str(err.value)
    two_in = nir.NIRGraph(nodes={"a": nir.Input(input_type={"input": np.array([2])}),
                                 "b": nir.Input(input_type={"input": np.array([2])}), "l": _lif(2)},
                          edges=[("a", "l"), ("b", "l")], type_check=False)  # fmt: skip
    outer = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}), "w": nir.Linear(weight=np.eye(2)),
                                "s": two_in}, edges=[("i", "w"), ("w", "s")], metadata={"dt": 1e-3},
                         type_check=False)  # fmt: skip
    with pytest.raises(ConfigError, match="subgraph 's': 2 Input nodes"):
        from_nir(outer)
