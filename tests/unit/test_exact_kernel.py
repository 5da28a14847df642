"""The fused exact kernel: bit-exact with the reference backend, gradients equal to the torch STE path."""

from __future__ import annotations

import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.chips import available_chips, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec, empty_spec
from xylodeploy.models import _exact_fused
from xylodeploy.models._exact_fused import simulate_exact
from xylodeploy.models.exact import XyloExactNet

NAMES = ("spikes_out", "spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_spec(rng: np.random.Generator, chip_name: str, hot: bool, n_syn: int | None = None) -> XyloSpec:
    """Random valid spec: aliases, negative thresholds, zero dashes; ``hot``: per-event saturation likely."""
    chip = get_chip(chip_name)
    n_in, n_h, n_out = int(rng.integers(1, 6)), int(rng.integers(1, 10)), int(rng.integers(1, 4))
    n_syn = n_syn or int(rng.integers(1, chip.max_synapses + 1))
    n_syn = min(n_syn, chip.max_synapses)
    density = rng.uniform(0.1, 0.9)
    w = lambda *shape: rng.integers(-128, 128, shape) * (rng.random(shape) < density)  # noqa: E731
    shift = int(rng.integers(5, 8)) if hot else int(rng.integers(0, 3))
    th_hi = chip.threshold_range.hi if hot else 2000
    th = np.where(rng.random(n_h) < 0.2, rng.integers(-300, 1, n_h), rng.integers(1, th_hi, n_h))
    others = [[a for a in range(n_h) if a != h] for h in range(n_h)]  # the DRC forbids self-aliases
    aliases = [
        tuple(int(a) for a in rng.choice(others[h], int(rng.integers(1, 3)))) if n_h > 1 and rng.random() < 0.3 else ()
        for h in range(n_h)
    ]
    return empty_spec(
        chip.name, n_in, n_h, n_out, n_syn,
        weights_in=w(n_in, n_h, n_syn), weights_rec=w(n_h, n_h, n_syn), weights_out=w(n_h, n_out),
        threshold=th, threshold_out=rng.integers(-50 if rng.random() < 0.2 else 0, th_hi, n_out),
        bias=rng.integers(-128, 128, n_h), bias_out=rng.integers(-128, 128, n_out),
        dash_mem=rng.integers(0, 16 if hot else 5, n_h), dash_syn=rng.integers(0, 16 if hot else 5, n_h),
        dash_syn_2=rng.integers(0, 5, n_h), dash_mem_out=rng.integers(0, 5, n_out),
        dash_syn_out=rng.integers(0, 5, n_out), weight_shift_in=shift, weight_shift_rec=max(shift - 2, 0),
        weight_shift_out=shift, aliases=aliases,
    )  # fmt: skip


def reference(spec: XyloSpec, x: np.ndarray) -> object:
    ref = ReferenceBackend(kernel="scalar", threads=1)
    ref.load(spec)
    return ref.run(x, record=True)


def assert_same(a: object, b: object) -> None:
    for name in NAMES:
        u, v = getattr(a, name), getattr(b, name)
        assert (u is None) == (v is None), name
        if u is not None:
            np.testing.assert_array_equal(np.asarray(u, np.int64), np.asarray(v, np.int64), err_msg=name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    chip=st.sampled_from(available_chips()),
    hot=st.booleans(),
    dense=st.sampled_from([None, True, False]),
)
def test_forward_matches_reference_backend(seed: int, chip: str, hot: bool, dense: bool | None) -> None:
    """Every recorded quantity, with the dense-row and the CSR delivery paths forced in turn."""
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, chip, hot)
    x = rng.integers(0, 20 if hot else 4, (2, 30, spec.n_inputs))
    patch = mock.patch.object(_exact_fused, "_dense", lambda nnz, size: dense) if dense is not None else None
    with patch or mock.patch.object(_exact_fused, "_dense", _exact_fused._dense):
        assert_same(reference(spec, x), simulate_exact(spec, x))
        with torch.no_grad():
            assert_same(
                reference(spec, x), XyloExactNet(spec, strict=False, engine="kernel")(x, record=True).to_recording()
            )


def test_per_event_saturation_order_by_hand() -> None:
    """15 events of +4064 saturate at 32767 before one event of -4096 arrives: 28671, not 32767."""
    chip = available_chips()[0]
    spec = empty_spec(chip, 2, 1, 1, 1, weights_in=np.array([[[127]], [[-128]]]), weight_shift_in=5,
                      dash_syn=np.array([4]), dash_mem=np.array([4]), threshold=np.array([32767]),
                      threshold_out=np.array([100]))  # fmt: skip
    x = np.array([[[15, 1]]])
    rec = simulate_exact(spec, x)
    assert rec.isyn[0, 0, 0] == 28671 - (28671 >> 4)
    assert_same(reference(spec, x), rec)


def test_negated_decrement_wraps() -> None:
    """dash_mem 0 at vmem -32768: -dec(-32768, 0) = 32768 wraps to -32768, so vmem stays pinned there
    (without the wrap, step 1 would give vmem = isyn + bias = -32640)."""
    chip = available_chips()[0]
    spec = empty_spec(chip, 1, 1, 1, 1, weights_in=np.array([[[-128]]]), weight_shift_in=7,
                      dash_syn=np.array([8]), dash_mem=np.array([0]), threshold=np.array([100]),
                      bias=np.array([-128]), threshold_out=np.array([100]))  # fmt: skip
    x = np.zeros((1, 4, 1), np.int64)
    x[0, 0, 0] = 15
    rec = simulate_exact(spec, x)
    assert_same(reference(spec, x), rec)
    assert rec.isyn[0, 1, 0] == -32512
    assert (rec.vmem[0, :, 0] == -32768).all()


def _run(spec: XyloSpec, x: torch.Tensor, coefs: dict, engine: str, freeze_zeros: bool) -> tuple[dict, dict]:
    model = XyloExactNet(spec, engine=engine, strict=False, freeze_zeros=freeze_zeros)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model(x, record=True)
    loss = sum((getattr(out, n) * coefs[n][..., : getattr(out, n).shape[-1]]).sum()
               for n in coefs if getattr(out, n) is not None)  # fmt: skip
    loss.backward()
    values = {n: getattr(out, n).detach() for n in coefs if getattr(out, n) is not None}
    return values, {k: p.grad for k, p in model.named_parameters()}


@pytest.mark.parametrize("n_syn", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_gradients_equal_torch_path(seed: int, n_syn: int) -> None:
    """Loss over every output (random weights): gradients of all parameters equal the torch STE model's."""
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, "xylo-audio2", hot=seed % 2 == 0, n_syn=n_syn)
    x = torch.tensor(rng.integers(0, 15 if seed % 2 == 0 else 3, (3, 25, spec.n_inputs)), dtype=torch.float64)
    coefs = {n: torch.tensor(rng.normal(size=(3, 25, 16))) for n in NAMES}
    v_t, g_t = _run(spec, x, coefs, "torch", seed % 3 != 0)
    v_k, g_k = _run(spec, x, coefs, "kernel", seed % 3 != 0)
    for n in v_t:
        torch.testing.assert_close(v_k[n], v_t[n], rtol=0, atol=0)
    for k in g_t:
        scale = float(g_t[k].abs().max()) + 1e-12
        torch.testing.assert_close(g_k[k], g_t[k], rtol=1e-9, atol=1e-9 * scale, msg=k)


def dense_spec() -> XyloSpec:
    """A layered 16-24-24-8 net as the mapper lays it out (block-diagonal recurrent matrix), 2 synapses."""
    rng = np.random.default_rng(7)
    w_in = np.zeros((16, 48, 2), np.int64)
    w_in[:, :24] = rng.integers(-60, 100, (16, 24, 2))
    w_rec = np.zeros((48, 48, 2), np.int64)
    w_rec[:24, 24:] = rng.integers(-80, 100, (24, 24, 2))
    w_out = np.zeros((48, 8), np.int64)
    w_out[24:] = rng.integers(-128, 128, (24, 8))
    return empty_spec(
        "xylo-audio2", 16, 48, 8, 2, weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        threshold=np.full(48, 900), threshold_out=np.full(8, 32767), dash_mem=np.full(48, 3),
        dash_syn=np.full(48, 2), dash_syn_2=np.full(48, 4), dash_mem_out=np.full(8, 4), dash_syn_out=np.full(8, 3),
        weight_shift_in=3, weight_shift_rec=3, weight_shift_out=3,
    )  # fmt: skip


def test_dense_input_bit_exact_and_gradients() -> None:
    """Audio-like input (~1 event per step and channel, bursts to 15): exact values and equal gradients."""
    rng = np.random.default_rng(3)
    rate = 0.8 + np.zeros((2, 120, 16))
    rate[:, 30:50, 4:9] += 8.0
    x = np.minimum(rng.poisson(rate), 15)
    spec = dense_spec()
    with torch.no_grad():
        rec = XyloExactNet(spec)(x, record=True)
    assert_same(reference(spec, x), rec.to_recording())
    assert float(rec.spikes.mean()) > 0.02  # the hidden layers are active
    coefs = {
        "vmem_out": torch.tensor(rng.normal(size=(2, 120, 8))),
        "spikes": torch.tensor(rng.normal(size=(2, 120, 48))),
    }
    xt = torch.tensor(x, dtype=torch.float64)
    _, g_t = _run(spec, xt, coefs, "torch", True)
    _, g_k = _run(spec, xt, coefs, "kernel", True)
    for k in g_t:
        torch.testing.assert_close(g_k[k], g_t[k], rtol=1e-9, atol=1e-9 * (float(g_t[k].abs().max()) + 1e-12), msg=k)


def test_engine_selection() -> None:
    spec = dense_spec()
    assert XyloExactNet(spec)._use_kernel(torch.zeros(1, 2, 16, dtype=torch.float64))
    assert not XyloExactNet(spec, engine="torch")._use_kernel(torch.zeros(1, 2, 16, dtype=torch.float64))
    assert not XyloExactNet(spec, ordered_events=False)._use_kernel(torch.zeros(1, 2, 16, dtype=torch.float64))
    with pytest.raises(ConfigError, match="engine"):
        XyloExactNet(spec, engine="cuda")


def test_simulate_rejects_bad_input() -> None:
    spec = dense_spec()
    with pytest.raises(ConfigError, match="threshold"):
        simulate_exact(spec.replace(threshold=np.full(48, 70000)), np.zeros((1, 5, 16)))
    with pytest.raises(ConfigError, match="channels|shape|16"):
        simulate_exact(spec, np.zeros((1, 5, 3)))


def test_single_clip_and_saturation_field() -> None:
    spec = dense_spec()
    x = np.ones((20, 16), np.int64)
    out = XyloExactNet(spec)(x, record=True)
    ref = XyloExactNet(spec, engine="torch")(x, record=True)
    for n in ("spikes_out", "vmem_out", "isyn_out", "spikes", "vmem", "isyn", "isyn2", "saturation"):
        torch.testing.assert_close(getattr(out, n), getattr(ref, n), rtol=0, atol=0, msg=n)
