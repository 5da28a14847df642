"""ONNX step graphs: float graph vs simulate_graph, integer graph vs the reference backend (bit exact)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tests.support.graphs import random_graph  # noqa: E402
from xylodeploy.backends import get_backend  # noqa: E402
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


def _reference(spec, x):
    backend = get_backend("reference")
    backend.load(spec)
    return backend.run(x.astype(np.uint8), record=True)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_syn=st.sampled_from([1, 2]), shift=st.sampled_from([0, 2, 6, 8]))
def test_integer_step_graph_is_bit_exact_on_every_clip(seed, n_syn, shift):
    """Per-event saturation included (shift 6 and 8 saturate on many clips); tests/conformance covers the rest."""
    spec = _random_spec(seed, n_syn, shift)
    r = np.random.default_rng(seed + 1)
    x = (r.random((4, 60, 5)) < 0.3) * r.integers(1, 18, (4, 60, 5))  # counts above 15 are clamped
    rec = _reference(spec, x)
    out = run_steps(int_step_model(spec), x)
    for ours, theirs in PAIRS:
        if getattr(rec, theirs) is not None:
            np.testing.assert_array_equal(out[ours], getattr(rec, theirs), err_msg=ours)


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
    rec = _reference(spec, x)
    assert rec.spikes_out.sum() > 100
    out = run_steps(int_step_model(spec), x)
    np.testing.assert_array_equal(out["spikes"], rec.spikes_out)
    np.testing.assert_array_equal(out["vmem_next"], rec.vmem)


def test_integer_export_runs_aliases_and_non_positive_thresholds_and_says_where_it_is_exact(tmp_path):
    spec = _random_spec(0, 2, 0).replace(
        aliases=[[5], [], [0]] + [[]] * 9, threshold=np.r_[0, -300, np.full(10, 200)], weights_rec=np.zeros((12, 12, 2))
    )
    x = (np.random.default_rng(1).random((3, 40, 5)) < 0.4) * 3
    model = export_onnx(spec, tmp_path / "s.onnx")
    out, rec = run_steps(model, x), _reference(spec, x)
    assert rec.spikes[..., [0, 1, 5]].sum(axis=(0, 1)).min() > 0  # thresholds 0 and -300 fire, alias target 5 too
    for ours, theirs in PAIRS:
        np.testing.assert_array_equal(out[ours], getattr(rec, theirs), err_msg=ours)
    meta = {p.key: p.value for p in onnx.load(tmp_path / "s.onnx").metadata_props}
    assert meta["xylodeploy.chip"] == "xylo-audio2" and meta["xylodeploy.exact"].startswith("every input")


def test_summed_events_graph_warns_and_records_where_it_is_exact(tmp_path):
    """per_event=False: smaller, but P19's mixed-sign events saturate differently (32255, the chip gives 0)."""
    from tests.support.probes import PROBES_BY_NAME
    from xylodeploy.interop.onnx import OnnxExactnessWarning

    probe = PROBES_BY_NAME["P19 per-event saturation, order dependent"]
    with pytest.warns(OnnxExactnessWarning, match="exact only on clips on which no step's partial sum"):
        model = export_onnx(probe.spec, tmp_path / "p19.onnx", per_event=False)
    meta = {p.key: p.value for p in onnx.load(tmp_path / "p19.onnx").metadata_props}
    assert meta["xylodeploy.exact"].startswith("clips on which") and "1 synaptic states" in meta["xylodeploy.exact"]
    assert run_steps(model, np.array([probe.raster]))["isyn_next"][0, :, 0].tolist() == [32255]
    assert run_steps(int_step_model(probe.spec), np.array([probe.raster]))["isyn_next"][0, :, 0].tolist() == [0]
    same_sign = PROBES_BY_NAME["P8 same-sign saturation, vmem saturation fires"].spec
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        props = {p.key: p.value for p in int_step_model(same_sign, per_event=False).metadata_props}
    assert props["xylodeploy.exact"].startswith("every input")
