"""ONNX step graphs: float graph vs simulate_graph, integer graph vs the reference backend (bit exact)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_interop_common import random_graph  # noqa: E402

from xylodeploy.backends import get_backend  # noqa: E402
from xylodeploy.chips import get_chip  # noqa: E402
from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.interop._common import graph_to_spec, simulate_graph  # noqa: E402
from xylodeploy.interop.onnx import export_onnx, int_step_model, run_steps  # noqa: E402
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph  # noqa: E402
from xylodeploy.ir.xylospec import empty_spec  # noqa: E402

PAIRS = (("spikes", "spikes_out"), ("spk_next", "spikes"), ("vmem_next", "vmem"), ("isyn_next", "isyn"),
         ("isyn2_next", "isyn2"), ("isyn_out_next", "isyn_out"), ("vmem_out_next", "vmem_out"))  # fmt: skip


def test_float_step_graph_reproduces_the_float_simulation(tmp_path):
    g = random_graph(5, n_syn=2)
    model = export_onnx(g, tmp_path / "g.onnx")
    onnx.checker.check_model(onnx.load(tmp_path / "g.onnx"))
    x = (np.random.default_rng(2).random((3, 50, 6)) < 0.3).astype(float)
    out, ref = run_steps(model, x), simulate_graph(g, x)
    np.testing.assert_array_equal(out["spikes"], ref["o"])
    np.testing.assert_array_equal(out["h.spk_next"], ref["h"])
    np.testing.assert_allclose(out["h.v_next"], ref["h.v"], atol=1e-9)


def _event_saturation(spec, x: np.ndarray, rec) -> bool:
    """True if some step's events could push a partial Isyn sum outside int16 (chip saturates per event)."""
    chip = get_chip(spec.chip)
    eff = lambda w, s: ((np.asarray(w, np.int64) << s) + 32768) % 65536 - 32768  # noqa: E731
    counts = np.minimum(x, chip.max_input_events)
    prev_spk = np.concatenate([np.zeros_like(rec.spikes[:, :1]), rec.spikes[:, :-1]], axis=1).astype(np.int64)
    checks = []
    for s, name in enumerate(["isyn", "isyn2"][: spec.n_synapses]):
        w_in, w_rec = (
            eff(spec.weights_in[:, :, s], spec.weight_shift_in),
            eff(spec.weights_rec[:, :, s], spec.weight_shift_rec),
        )
        pos = counts @ np.clip(w_in, 0, None) + prev_spk @ np.clip(w_rec, 0, None)
        neg = counts @ np.clip(w_in, None, 0) + prev_spk @ np.clip(w_rec, None, 0)
        checks.append((getattr(rec, name), pos, neg))
    w_out = eff(spec.weights_out, spec.weight_shift_out)
    checks.append((rec.isyn_out, prev_spk @ np.clip(w_out, 0, None), prev_spk @ np.clip(w_out, None, 0)))
    for state, pos, neg in checks:
        prev = np.concatenate([np.zeros_like(state[:, :1]), state[:, :-1]], axis=1).astype(np.int64)
        if np.any(prev + pos > chip.state_range.hi) or np.any(prev + neg < chip.state_range.lo):
            return True
    return False


def _random_spec(seed: int, n_syn: int, shift: int):
    r = np.random.default_rng(seed)
    ni, nh, no = 5, 12, 3
    return empty_spec(
        "xylo-audio2", ni, nh, no, n_syn,
        weights_in=r.integers(-40, 41, (ni, nh, n_syn)), weights_out=r.integers(-30, 31, (nh, no)),
        weights_rec=r.integers(-30, 31, (nh, nh, n_syn)) * (r.random((nh, nh, n_syn)) < 0.3),
        dash_mem=r.integers(0, 8, nh), dash_syn=r.integers(0, 8, nh), dash_syn_2=r.integers(0, 8, nh),
        dash_mem_out=r.integers(0, 8, no), dash_syn_out=r.integers(0, 8, no),
        threshold=r.integers(20, 800, nh), threshold_out=r.integers(20, 800, no),
        bias=r.integers(-20, 21, nh), bias_out=r.integers(-20, 21, no),
        weight_shift_in=shift, weight_shift_rec=shift, weight_shift_out=shift,
    )  # fmt: skip


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_syn=st.sampled_from([1, 2]), shift=st.integers(0, 2))
def test_integer_step_graph_is_bit_exact_without_event_saturation(seed, n_syn, shift):
    spec = _random_spec(seed, n_syn, shift)
    r = np.random.default_rng(seed + 1)
    x = (r.random((4, 60, 5)) < 0.3) * r.integers(1, 18, (4, 60, 5))  # counts above 15 are clamped
    backend = get_backend("reference")
    backend.load(spec)
    rec = backend.run(x.astype(np.uint8), record=True)
    out = run_steps(int_step_model(spec), x)
    clean = [b for b in range(4) if not _event_saturation(spec, x[b : b + 1], rec.clip(b))]
    assume(clean)  # about half of the clips of these specs never risk per-event saturation
    for ours, theirs in PAIRS:
        if getattr(rec, theirs) is not None:
            np.testing.assert_array_equal(out[ours][clean], getattr(rec, theirs)[clean], err_msg=ours)


def test_integer_step_graph_of_a_quantized_graph_matches_the_reference():
    rng = np.random.default_rng(6)
    h = LIFPopulation("h", 10, tau_mem=8e-3, tau_syn=4e-3, threshold=1.0)
    o = LIFPopulation("o", 3, tau_mem=8e-3, tau_syn=4e-3, threshold=1.0)
    conns = (Connection(INPUT, "h", rng.normal(0.2, 0.3, (6, 10))), Connection("h", "o", rng.normal(0.2, 0.3, (10, 3))))
    g = NetworkGraph(6, (h, o), conns, "o")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = graph_to_spec(g, "xylo-audio3")
    x = (np.random.default_rng(3).random((6, 80, 6)) < 0.15).astype(np.int64)
    backend = get_backend("reference")
    backend.load(spec)
    rec = backend.run(x.astype(np.uint8), record=True)
    clean = [b for b in range(6) if not _event_saturation(spec, x[b : b + 1], rec.clip(b))]
    assert len(clean) >= 3 and rec.spikes_out[clean].sum() > 100
    out = run_steps(int_step_model(spec), x)
    np.testing.assert_array_equal(out["spikes"][clean], rec.spikes_out[clean])
    np.testing.assert_array_equal(out["vmem_next"][clean], rec.vmem[clean])


def test_integer_export_refuses_aliases_and_zero_thresholds():
    spec = _random_spec(0, 1, 0)
    with pytest.raises(ConfigError, match="aliases"):
        int_step_model(spec.replace(aliases=[[1]] + [[]] * 11))
    with pytest.raises(ConfigError, match="thresholds must be >= 1"):
        int_step_model(spec.replace(threshold=np.zeros(12, np.int64)))
