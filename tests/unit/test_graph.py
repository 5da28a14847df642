"""NetworkGraph: construction, validation messages, topological helpers, immutability."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from xylodeploy.errors import ConfigError
from xylodeploy.ir import INPUT, Connection, LIFPopulation, NetworkGraph, feedforward_graph


def pop(name: str, n: int, n_syn: int = 1, **kw) -> LIFPopulation:
    tau_syn = kw.pop("tau_syn", 4e-3 if n_syn == 1 else [[2e-3, 8e-3]] * n)
    return LIFPopulation(name, n, kw.pop("tau_mem", 8e-3), tau_syn, kw.pop("threshold", 1.0), n_synapses=n_syn, **kw)


def stack(sizes=(3, 4, 5, 2), rec: dict | None = None) -> NetworkGraph:
    pops = [pop(f"h{i}", n) for i, n in enumerate(sizes[1:-1])] + [pop("out", sizes[-1])]
    ws = [np.ones((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return feedforward_graph(sizes[0], pops, ws, recurrent=rec)


def test_stack_helpers():
    g = stack(rec={"h1": np.zeros((5, 5))})
    assert g.topological_order() == ("h0", "h1", "out")
    assert [p.name for p in g.hidden_populations()] == ["h0", "h1"]
    assert g.input_population.name == "h0"
    assert [p.name for p in g.readout_sources()] == ["h1"]
    assert g.n_hidden == 9 and g.n_outputs == 2 and g.sizes == {"h0": 4, "h1": 5, "out": 2}
    assert g.recurrent("h1") is not None and g.recurrent("h0") is None
    assert g.dt == 1e-3


def test_two_synapse_population_and_broadcasting():
    h = pop("h", 3, n_syn=2)
    assert h.tau_syn.shape == (3, 2) and h.tau_mem.shape == (3,) and np.all(h.bias == 0)
    w = np.arange(4 * 3 * 2, dtype=float).reshape(4, 3, 2)
    g = NetworkGraph(4, (h, pop("o", 1)), (Connection(INPUT, "h", w), Connection("h", "o", np.ones((3, 1)))), "o")
    assert g.max_synapses == 2
    assert np.array_equal(g.connections[0].weight, w)
    assert g.connections[1].weight.shape == (3, 1, 1)  # 2-D weights drive synapse 0


def test_topological_order_is_not_declaration_order():
    a, b, o = pop("a", 2), pop("b", 2), pop("o", 1)
    conns = (
        Connection("b", "o", np.ones((2, 1))),
        Connection("a", "b", np.ones((2, 2))),
        Connection(INPUT, "a", np.ones((1, 2))),
    )
    g = NetworkGraph(1, (o, b, a), conns, "o")
    assert g.topological_order() == ("a", "b", "o")


def test_arrays_are_copied_and_read_only():
    th = np.array([1.0, 2.0])
    h = pop("h", 2, threshold=th)
    th[0] = 99.0
    assert h.threshold[0] == 1.0
    with pytest.raises(ValueError):
        h.threshold[0] = 5.0


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: pop("h", 3, tau_mem=[1e-3, 2e-3]), "population 'h': field 'tau_mem' has shape (2,)"),
        (
            lambda: pop("h", 3, tau_mem=[1e-3, 0.0, 2e-3]),
            "population 'h': field 'tau_mem' must be > 0, violated at neuron(s) 1",
        ),
        (lambda: pop("h", 2, tau_syn=[[1e-3, -1.0]] * 2, n_syn=2), "field 'tau_syn' must be > 0"),
        (lambda: pop("h", 2, threshold=0.0), "field 'threshold' must be > 0"),
        (lambda: pop("h", 2, n_syn=3), "field 'n_synapses' must be 1 or 2"),
        (lambda: pop("h", 2, dt=0.0), "field 'dt' must be > 0"),
        (lambda: pop(INPUT, 2), "field 'name'"),
        (lambda: pop("h", 2, bias=[np.nan, 0]), "field 'bias' contains NaN"),
    ],
)
def test_population_validation(make, needle):
    with pytest.raises(ConfigError, match=None) as info:
        make()
    assert needle in str(info.value)


def _graph(pops, conns, readout="o", n_in=2):
    return NetworkGraph(n_in, tuple(pops), tuple(conns), readout)


def c(src: str, tgt: str, *shape: int) -> Connection:
    return Connection(src, tgt, np.ones(shape))


H2O1 = lambda **kw: [pop("h", 2), pop("o", 1, **kw)]  # noqa: E731


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: _graph(H2O1(), [c(INPUT, "h", 3, 2), c("h", "o", 2, 1)]),
         "connection 'input'->'h': field 'weight' has shape (3, 2), expected (2, 2)"),
        (lambda: _graph(H2O1(dt=2e-3), [c(INPUT, "h", 2, 2), c("h", "o", 2, 1)]), "population 'o': field 'dt'"),
        (lambda: _graph(H2O1(), [c(INPUT, "h", 2, 2), c("h", "o", 2, 1)], readout="x"),
         "readout population 'x' does not exist"),
        (lambda: _graph([*H2O1(), pop("g", 2)], [c(INPUT, "h", 2, 2), c("h", "o", 2, 1)]),
         "['g'] cannot be reached from the input"),
        (lambda: _graph(H2O1(), [c(INPUT, "h", 2, 2), c("z", "o", 2, 1)]), "source population 'z' does not exist"),
        (lambda: _graph(H2O1(), [c(INPUT, "h", 2, 2), c(INPUT, "h", 2, 2)]), "duplicate connection"),
        (lambda: _graph(H2O1(), [c(INPUT, "h", 2, 2, 2), c("h", "o", 2, 1)]),
         "has 2 synapses, target 'h' has n_synapses = 1"),
        (lambda: _graph([pop("a", 2), pop("b", 2), pop("o", 1)],
                        [c(INPUT, "a", 2, 2), c("a", "b", 2, 2), c("b", "a", 2, 2), c("b", "o", 2, 1)]),
         "form a cycle"),
        (lambda: _graph([pop("h", 2), pop("h", 2)], [c(INPUT, "h", 2, 2)], readout="h"),
         "population name 'h' is used more than once"),
    ],
)  # fmt: skip
def test_graph_validation(build, needle):
    with pytest.raises(ConfigError) as info:
        build()
    assert needle in str(info.value)


def test_self_recurrence_is_not_a_cycle_and_input_population_ambiguity():
    a, b, o = pop("a", 2), pop("b", 3), pop("o", 1)
    conns = (
        Connection(INPUT, "a", np.ones((2, 2))),
        Connection(INPUT, "b", np.ones((2, 3))),
        Connection("a", "a", np.eye(2)),
        Connection("a", "o", np.ones((2, 1))),
        Connection("b", "o", np.ones((3, 1))),
    )
    g = NetworkGraph(2, (a, b, o), conns, "o")
    assert [p.name for p in g.input_populations()] == ["a", "b"]
    assert [p.name for p in g.readout_sources()] == ["a", "b"]
    with pytest.raises(ConfigError, match="2 populations receive the input"):
        _ = g.input_population


def test_graph_module_does_not_import_torch():
    code = "import sys, xylodeploy.ir.graph, xylodeploy.quantize, xylodeploy.mapping; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
