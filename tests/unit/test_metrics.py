"""NeuroBench-style metrics: hand-computed values on a tiny spec, and agreement with the reference recordings."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.flow.metrics import compute_metrics, metrics_from_reference, parameter_counts
from xylodeploy.ir.xylospec import XyloSpec


def _spec() -> XyloSpec:
    """2 inputs, 3 hidden (1 synapse), 2 readouts; hand-picked zero patterns."""
    w_in = np.array([[[5], [0], [3]], [[0], [0], [7]]])  # fan-out: input0 -> 2, input1 -> 1
    w_rec = np.zeros((3, 3, 1), int)
    w_rec[0, 1, 0] = 4  # hidden0 -> hidden1: fan-out 1; others 0
    w_out = np.array([[1, 0], [2, 3], [0, 0]])  # fan-out: 1, 2, 0
    z3, z2 = np.zeros(3, int), np.zeros(2, int)
    return XyloSpec("xylo-audio2", w_in, w_rec, w_out, z3 + 1, z3 + 1, z3, z2 + 1, z2 + 1, z3 + 10, z2 + 10, z3, z2,
                    dt=1e-3)  # fmt: skip


def test_counts_match_hand_computation():
    spec = _spec()
    x = np.zeros((2, 4, 2), int)
    x[0, 0, 0] = 2  # clip 0: 2 events on input0 -> 2 * 2 = 4 ops
    x[1, 3, 1] = 1  # clip 1: 1 event on input1 -> 1 op
    h = np.zeros((2, 4, 3), int)
    h[0, 1, 0] = 1  # hidden0: rec fan-out 1 + out fan-out 1 = 2 ops
    h[1, 2, 1] = 3  # hidden1: 3 * (0 + 2) = 6 ops
    o = np.zeros((2, 4, 2), int)
    o[0, 3, 1] = 1
    m = compute_metrics(spec, x, h, o)
    assert m.effective_synops == pytest.approx(((4 + 2) + (1 + 6)) / 2)
    assert m.dense_synops == 4 * (2 * 3 + 3 * 3 + 3 * 2)
    assert m.membrane_updates == 4 * (3 + 2)
    assert m.activation_sparsity == pytest.approx(1 - 3 / (2 * 4 * 5))
    assert m.firing_rate_hz == pytest.approx(
        {"input": 3 / (2 * 8e-3), "hidden": 4 / (3 * 8e-3), "readout": 1 / (2 * 8e-3)}
    )
    params, nnz, sparsity, foot = parameter_counts(spec)
    assert (params, nnz) == (6 + 9 + 6 + 4 * 3 + 4 * 2, 3 + 1 + 3)
    assert sparsity == pytest.approx(1 - 7 / 21)
    # weights 1 B; per hidden/readout neuron threshold 2 B + bias 1 B + two 4-bit dashes 1 B each
    assert foot == 21 + 3 * (2 + 1 + 1 + 1) + 2 * (2 + 1 + 1 + 1)
    nb = m.neurobench(accuracy=0.5)
    assert nb["SynapticOperations"]["Effective_ACs"] == m.effective_synops and nb["ClassificationAccuracy"] == 0.5


def test_reference_metrics_use_the_simulators_spikes():
    from xylodeploy.backends import get_backend

    spec = _spec()
    x = np.random.default_rng(0).integers(0, 3, (3, 50, 2))
    m = metrics_from_reference(spec, x)
    sim = get_backend("reference")
    sim.load(spec)
    rec = sim.run(x, record=True)
    assert m.firing_rate_hz["hidden"] == pytest.approx(rec.spikes.sum() / (3 * 3 * 50e-3))
    assert m.firing_rate_hz["hidden"] > 0 and 0 < m.activation_sparsity < 1


def test_validate_json_and_neurobench_export(tmp_path):
    import json

    from click.testing import CliRunner

    from xylodeploy.cli import main

    spec = _spec()
    spec.save(tmp_path / "s.xylo")
    x = np.random.default_rng(1).integers(0, 3, (4, 30, 2))
    np.savez(tmp_path / "d.npz", spikes=x, labels=np.array([0, 1, 0, 1]))
    args = ["validate", str(tmp_path / "s.xylo"), "--data", str(tmp_path / "d.npz"), "--no-exact", "--json"]
    res = CliRunner().invoke(main, [*args, "--neurobench", str(tmp_path / "nb.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    expected = metrics_from_reference(spec, x)
    assert doc["metrics"]["effective_synops"] == pytest.approx(expected.effective_synops)
    nb = json.loads((tmp_path / "nb.json").read_text())
    assert nb["MembraneUpdates"] == 30 * 5 and nb["ClassificationAccuracy"] == doc["stages"]["reference"]["accuracy"]
