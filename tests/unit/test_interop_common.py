"""Graph files, the chain builder's relays and the chip helpers of xylodeploy.interop._common."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.support.graphs import graphs_equal, random_graph
from xylodeploy.backends import get_backend
from xylodeploy.errors import ConfigError
from xylodeploy.interop._common import Chain, ImportReport, graph_to_spec, load_graph, save_graph, simulate_graph
from xylodeploy.ir.graph import NetworkGraph


def test_graph_file_round_trip(tmp_path):
    g = random_graph(1, n_syn=2)
    path = tmp_path / "g.npz"
    save_graph(g, path)
    assert graphs_equal(g, load_graph(path))


@pytest.mark.parametrize("content", [b"", b"not a zip", None])
def test_graph_file_rejects_bad_files(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, a=np.zeros(3))  # an npz without the metadata block
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="bad.npz"):
        load_graph(path)


def test_graph_file_rejects_other_schema_version(tmp_path):
    import json

    path = tmp_path / "g.npz"
    save_graph(random_graph(), path)
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    meta = json.loads(members["__meta__"].tobytes().decode())
    meta["schema_version"] = 99
    members["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **members)
    with pytest.raises(ConfigError, match="schema_version"):
        load_graph(path)


def _relay_graph(steps: int) -> NetworkGraph:
    chain = Chain(4, 1e-3, ImportReport("test"))
    chain.delay(steps, "d")
    chain.linear(np.eye(4), None, "lin")
    chain.neurons("out", tau_mem=1e-9, tau_syn=1e-3, threshold=1e9)
    return chain.build("relay", "test")


def test_relays_forward_counts_exactly_in_float_and_one_hop_each_on_chip():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 32, (2, 40, 4)) * (rng.random((2, 40, 4)) < 0.5)  # counts up to 31
    g = _relay_graph(3)
    sim = simulate_graph(g, x)
    for name in [p.name for p in g.populations][:3]:  # the float graph has no delay: relays repeat the counts
        np.testing.assert_array_equal(sim[name], x)
    x = (x > 0).astype(np.int64)  # on the chip: binary spikes (n * threshold must fit int16, see Chain.delay)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = graph_to_spec(g, "xylo-audio2")
    be = get_backend("reference")
    be.load(spec)
    rec = be.run(x.astype(np.uint8), record=True)
    for k in range(3):  # relay k sits k hops behind the input on the chip
        got = rec.spikes[:, :, 4 * k : 4 * k + 4]
        np.testing.assert_array_equal(got[:, k:], x[:, : 40 - k])
