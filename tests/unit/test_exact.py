"""XyloExactNet: integer ops, the scalar model as oracle (event by event), gradients, to_spec and fine-tuning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xylodeploy.arith import scalar_model
from xylodeploy.arith.primitives import dec, fire
from xylodeploy.chips import available_chips, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec, empty_spec
from xylodeploy.models._exact_ops import decay, shifted_weight, spike_count_exact
from xylodeploy.models.exact import ExactSaturationWarning, XyloExactNet
from xylodeploy.train.finetune import evaluate_exact, finetune_exact, readout_logits

LO, HI = -32768, 32767


pytestmark = pytest.mark.usefixtures("one_torch_thread")


_dec, _fire = dec.py_func, fire.py_func  # the rules of xylodeploy.arith (plain Python)


def small_spec(rng: np.random.Generator, chip_name: str, hot: bool) -> XyloSpec:
    """Random valid spec; ``hot`` makes per-event saturation likely (large shifts, long dashes)."""
    chip = get_chip(chip_name)
    n_in, n_h, n_out = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 4))
    n_syn = int(rng.integers(1, chip.max_synapses + 1))
    w = lambda *shape: rng.integers(-128, 128, shape) * (rng.random(shape) < 0.6)  # noqa: E731
    shift = int(rng.integers(5, 8)) if hot else int(rng.integers(0, 3))
    th_hi = chip.threshold_range.hi if hot else 2000
    th = rng.integers(-200 if rng.random() < 0.2 else 1, th_hi, n_h)
    aliases = [(int(rng.integers(0, n_h)),) if rng.random() < 0.3 else () for _ in range(n_h)]
    return empty_spec(
        chip.name,
        n_in,
        n_h,
        n_out,
        n_syn,
        weights_in=w(n_in, n_h, n_syn),
        weights_rec=w(n_h, n_h, n_syn),
        weights_out=w(n_h, n_out),
        threshold=th,
        threshold_out=rng.integers(0, th_hi, n_out),
        bias=rng.integers(-128, 128, n_h),
        bias_out=rng.integers(-128, 128, n_out),
        dash_mem=rng.integers(0, 16 if hot else 5, n_h),
        dash_syn=rng.integers(0, 16 if hot else 5, n_h),
        dash_syn_2=rng.integers(0, 5, n_h),
        dash_mem_out=rng.integers(0, 5, n_out),
        dash_syn_out=rng.integers(0, 5, n_out),
        weight_shift_in=shift,
        weight_shift_rec=max(shift - 2, 0),
        weight_shift_out=shift,
        aliases=aliases,
    )


def _check_against_scalar_model(seed: int, chip: str, hot: bool) -> tuple[int, int]:
    """Exact on every clip (the scalar model as oracle); returns (clips, clips where event order mattered)."""
    rng = np.random.default_rng(seed)
    spec = small_spec(rng, chip, hot)
    raster = rng.integers(0, 17, (3, int(rng.integers(1, 16)), spec.n_inputs)) * (rng.random((3, 1, 1)) < 0.8)
    res = XyloExactNet(spec)(torch.tensor(raster), record=True)
    assert int(res.saturation.sum()) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        summed = XyloExactNet(spec, ordered_events=False)(torch.tensor(raster))  # where ordering mattered
    rec = res.to_recording()
    for b in range(raster.shape[0]):
        ref = scalar_model.run_clip(spec, raster[b])
        assert all(np.array_equal(v[b], ref[k]) for k, v in rec.fields().items()), {
            k: (v[b].tolist(), ref[k].tolist()) for k, v in rec.fields().items()
        }
    return raster.shape[0], int((summed.saturation != 0).sum())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chip=st.sampled_from(available_chips()), hot=st.booleans())
def test_matches_the_scalar_model_event_by_event(seed: int, chip: str, hot: bool) -> None:
    """Exact on every clip: steps where per-event saturation matters are delivered event by event."""
    _check_against_scalar_model(seed, chip, hot)


def test_saturation_cases_are_generated() -> None:
    """The specs above exercise the event-by-event path, and the summed path (fixed seeds)."""
    clips = flagged = 0
    for seed in range(16):
        c, f = _check_against_scalar_model(seed, available_chips()[seed % 3], seed % 2 == 0)
        clips, flagged = clips + c, flagged + f
    assert flagged > 0 and clips - flagged > flagged // 4, (clips, flagged)


# --- integer ops --------------------------------------------------------------------------------------
@given(x=st.integers(LO, HI), d=st.integers(0, 15))
def test_decay_matches_bit_shift_rule(x: int, d: int) -> None:
    assert decay(torch.tensor([float(x)], dtype=torch.float64), torch.tensor(float(d))).item() == x - _dec(x, d)


@given(w=st.integers(-128, 127), s=st.integers(0, 20))
def test_shifted_weight_wraps_to_int16(w: int, s: int) -> None:
    got = shifted_weight(torch.tensor([float(w)], dtype=torch.float64), s).item()
    assert got == np.array((w << s) & 0xFFFF, dtype=np.uint16).view(np.int16).item()


@given(v=st.integers(LO, HI), th=st.integers(LO, HI), cap=st.integers(0, 31))
def test_spike_count_matches_loop(v: int, th: int, cap: int) -> None:
    vv, k = _fire(v, th, 0, cap, LO, HI)
    t = lambda x: torch.tensor([float(x)], dtype=torch.float64)  # noqa: E731
    n, after = spike_count_exact(t(v), t(th), t(cap), 31, general=True)
    assert (n.item(), after.item()) == (k, vv)


# --- gradients, parameters, to_spec ---------------------------------------------------------------------
def active_spec(n_syn: int = 2) -> XyloSpec:
    rng = np.random.default_rng(3)
    n_in, n_h, n_out = 4, 10, 3
    return empty_spec(
        "xylo-audio2",
        n_in,
        n_h,
        n_out,
        n_syn,
        weights_in=rng.integers(0, 100, (n_in, n_h, n_syn)),
        weights_rec=rng.integers(-60, 60, (n_h, n_h, n_syn)),
        weights_out=rng.integers(-80, 80, (n_h, n_out)),
        threshold=rng.integers(150, 400, n_h),
        threshold_out=rng.integers(200, 600, n_out),
        bias=rng.integers(-20, 20, n_h),
        bias_out=rng.integers(-20, 20, n_out),
        dash_mem=np.full(n_h, 2),
        dash_syn=np.full(n_h, 2),
        dash_syn_2=np.full(n_h, 3),
        dash_mem_out=np.full(n_out, 3),
        dash_syn_out=np.full(n_out, 2),
        aliases=[(5,)] + [()] * 9,
    )


def toy_events(n: int = 4, t: int = 25, seed: int = 0) -> torch.Tensor:
    return torch.tensor(np.random.default_rng(seed).poisson(0.7, (n, t, 4)), dtype=torch.float64)


def test_gradients_reach_every_trainable_parameter() -> None:
    model = XyloExactNet(active_spec())
    out = model(toy_events(), record=True)
    assert out.spikes.sum() > 0 and out.saturation.sum() == 0
    (out.vmem_out.mean() + out.spikes_out.sum() + out.vmem.mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_frozen_groups_and_zero_weights_get_no_gradient() -> None:
    spec = active_spec(1)
    spec = spec.replace(weights_rec=np.where(np.abs(spec.weights_rec) < 30, 0, spec.weights_rec))
    model = XyloExactNet(spec, trainable=("weights",))
    model(toy_events()).vmem_out.sum().backward()
    assert model.threshold.grad is None and model.bias_out.grad is None
    zero = torch.tensor(spec.weights_rec == 0)
    assert zero.any() and (model.weights_rec.grad[zero] == 0).all()


def test_to_spec_round_trip_and_update() -> None:
    spec = active_spec()
    model = XyloExactNet(spec)
    back = model.to_spec()
    assert back.equals(spec) and "finetune" in back.provenance and not back.equals(spec, provenance=True)
    with torch.no_grad():
        model.weights_out += 0.6
        model.bias -= 1000.0  # beyond the chip's bias range: clipped
    new = model.to_spec({"epoch": 3})
    expect_w = np.where(spec.weights_out != 0, np.minimum(spec.weights_out + 1, 127), 0)
    assert np.array_equal(new.weights_out, expect_w)
    assert (new.bias == get_chip(spec.chip).bias_range.lo).all() and new.provenance["finetune"]["epoch"] == 3
    model.clip_()
    assert model.bias.min() >= get_chip(spec.chip).bias_range.lo - 0.5


def test_input_forms_and_validation() -> None:
    spec = active_spec()
    model = XyloExactNet(spec)
    x = toy_events(2)
    a = model(x).vmem_out
    b = model(x.to(torch.int32).numpy()).vmem_out
    c = model(x[1]).vmem_out
    assert torch.equal(a, b) and torch.equal(a[1], c)
    assert model(x.clamp(max=15)).vmem_out.equal(model(x * 0 + x.clamp(max=15) + (x == 15) * 40).vmem_out)
    with pytest.raises(ConfigError, match="expected shape"):
        model(torch.zeros(2, 5, 3))
    with pytest.raises(ConfigError, match="non-negative"):
        model(-x)
    with pytest.raises(ConfigError, match="trainable"):
        XyloExactNet(spec, trainable=("weight",))
    with pytest.raises(ConfigError, match="bias"):
        XyloExactNet(spec.replace(bias=np.full(spec.n_hidden, 200)))
    assert (
        XyloExactNet(spec.replace(bias=np.full(spec.n_hidden, 200)), strict=False)
        .to_spec()
        .equals(spec.replace(bias=np.full(spec.n_hidden, 200)))
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    spec = active_spec()
    x = toy_events(3)
    cpu = XyloExactNet(spec)(x, record=True)
    gpu = XyloExactNet(spec).cuda()(x, record=True)
    for name in ("spikes_out", "vmem_out", "spikes", "vmem", "isyn", "isyn2"):
        assert torch.equal(getattr(cpu, name), getattr(gpu, name).cpu()), name


# --- fine-tuning -----------------------------------------------------------------------------------------
def toy_task(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c has dense events on channels 2c, 2c+1 and sparse events elsewhere."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    rate = np.full((n, 1, 4), 0.1)
    rate[y == 0, :, :2] = 0.8
    rate[y == 1, :, 2:] = 0.8
    return torch.tensor(rng.poisson(rate, (n, 20, 4)), dtype=torch.float64), torch.tensor(y)


def toy_spec() -> XyloSpec:
    rng = np.random.default_rng(11)
    return empty_spec(
        "xylo-imu",
        4,
        8,
        2,
        1,
        weights_in=rng.integers(10, 60, (4, 8, 1)),
        weights_rec=np.zeros((8, 8, 1), np.int64),
        weights_out=rng.integers(-40, 40, (8, 2)),
        threshold=np.full(8, 150),
        threshold_out=np.full(2, 1000),
        dash_mem=np.full(8, 2),
        dash_syn=np.full(8, 1),
        dash_mem_out=np.full(2, 3),
        dash_syn_out=np.full(2, 2),
    )


def _loss(spec: XyloSpec, data) -> float:
    model = XyloExactNet(spec)
    with torch.no_grad():
        logits = readout_logits(model(data[0]), model.threshold_out, "ce_max")
        return float(torch.nn.functional.cross_entropy(logits, data[1]))


def test_finetune_reduces_loss_and_keeps_best() -> None:
    spec, train, val = toy_spec(), toy_task(64, 0), toy_task(48, 1)
    new, report = finetune_exact(spec, train, val, epochs=4, lr=1.0, batch_size=16, progress=False)
    assert _loss(new, train) < _loss(spec, train)
    assert report.best_val_accuracy >= report.initial_val_accuracy and len(report.history) == 5
    assert report.best_val_accuracy > report.initial_val_accuracy, report.history
    acc, _ = evaluate_exact(XyloExactNet(new), val)
    assert acc == report.best_val_accuracy
    assert new.provenance["finetune"]["epoch"] == report.best_epoch


def test_finetune_accepts_batch_iterables_and_rejects_bad_input() -> None:
    spec, (x, y) = toy_spec(), toy_task(16, 2)
    loader = [(x[:8], y[:8]), (x[8:], y[8:])]
    new, report = finetune_exact(spec, loader, epochs=1, lr=0.5, loss="ce_count", readout="spikes", progress=False)
    assert isinstance(new, XyloSpec) and len(report.history) == 2
    with pytest.raises(ConfigError, match="loss"):
        finetune_exact(spec, (x, y), loss="mse", progress=False)
    with pytest.raises(ConfigError, match="re-iterable"):
        finetune_exact(spec, iter(loader), progress=False)
