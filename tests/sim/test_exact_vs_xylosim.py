"""XyloExactNet against xylosim.v2 (bit for bit) on random valid specs; its saturation flags on probes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.probes import PROBES_BY_NAME
from xylodeploy.chips import available_chips, get_chip
from xylodeploy.ir.xylospec import XyloSpec, empty_spec
from xylodeploy.models.exact import ExactSaturationWarning, XyloExactNet

xv2 = pytest.importorskip("xylosim.v2")

_KEEP: list = []  # XyloLayer keeps raw pointers to the Python XyloSynapse objects


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def xylosim_layer(spec: XyloSpec):
    """A xylosim.v2 XyloLayer configured from ``spec`` (test-local builder)."""
    syn = xv2.XyloSynapse
    n_in, n_h, n_syn = spec.weights_in.shape
    w_in, w_rec, w_out = spec.weights_in, spec.weights_rec, spec.weights_out
    s_in = [
        [syn(h, s, int(w_in[c, h, s])) for h in range(n_h) for s in range(n_syn) if w_in[c, h, s]] for c in range(n_in)
    ]
    s_rec = [
        [syn(h, s, int(w_rec[i, h, s])) for h in range(n_h) for s in range(n_syn) if w_rec[i, h, s]] for i in range(n_h)
    ]
    s_out = [[syn(o, 0, int(w_out[i, o])) for o in range(spec.n_outputs) if w_out[i, o]] for i in range(n_h)]
    _KEEP.append((s_in, s_rec, s_out))
    dash = np.stack([spec.dash_syn, spec.dash_syn_2], 1)[:, :n_syn]
    return xv2.XyloLayer(
        synapses_in=s_in,
        synapses_rec=s_rec,
        synapses_out=s_out,
        aliases=[list(a) for a in spec.aliases],
        threshold=spec.threshold.tolist(),
        threshold_out=spec.threshold_out.tolist(),
        has_bias=spec.has_bias,
        bias=spec.bias.tolist(),
        bias_out=spec.bias_out.tolist(),
        weight_shift_inp=spec.weight_shift_in,
        weight_shift_rec=spec.weight_shift_rec,
        weight_shift_out=spec.weight_shift_out,
        dash_mem=spec.dash_mem.tolist(),
        dash_mem_out=spec.dash_mem_out.tolist(),
        dash_syns=dash.tolist(),
        dash_syns_out=[[int(d)] for d in spec.dash_syn_out],
        name="exact-test",
    )


def xylosim_run(layer, raster: np.ndarray, n_syn: int) -> dict[str, np.ndarray]:
    """One clip (T, Nin) from reset state; every recorded quantity as (T, N)."""
    layer.reset_all()
    out = np.array(layer.evolve([[int(v) for v in row] for row in raster]))
    res = dict(
        spikes_out=out,
        isyn=np.array(layer.rec_i_syn).T,
        vmem=np.array(layer.rec_v_mem).T,
        spikes=np.array(layer.rec_recurrent_spikes),
        isyn_out=np.array(layer.rec_i_syn_out).T,
        vmem_out=np.array(layer.rec_v_mem_out).T,
    )
    if n_syn == 2:
        res["isyn2"] = np.array(layer.rec_i_syn2).T
    return res


def random_spec(
    rng: np.random.Generator, chip_name: str, two_syn: bool, p_alias: float = 0.15, p_negative_th: float = 0.0
) -> XyloSpec:
    chip = get_chip(chip_name)
    n_in, n_h = int(rng.integers(1, chip.max_inputs + 1)), int(rng.integers(1, 31))
    n_out = int(rng.integers(1, min(chip.max_readout, 8) + 1))
    n_syn = 2 if two_syn and chip.two_synapses else 1

    def weights(shape: tuple[int, ...], density: float) -> np.ndarray:
        w = rng.integers(chip.weight_range.lo, chip.weight_range.hi + 1, size=shape)
        return w * (rng.random(shape) < density)

    def dashes(n: int) -> np.ndarray:
        return np.where(rng.random(n) < 0.1, rng.integers(0, 16, n), rng.integers(1, 5, n))

    shifts = [int(rng.choice([0, 0, 1, 2, 3, 7], p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05])) for _ in range(3)]

    def thresholds(n: int, shift: int) -> np.ndarray:
        th = np.minimum(rng.integers(50, 3000, n) << shift, chip.threshold_range.hi)
        th[rng.random(n) < 0.02] = 0  # fires the maximum every step (P13)
        neg = rng.random(n) < p_negative_th  # each spike adds |th|; int16 state wraps
        th[neg] = rng.integers(chip.threshold_range.lo, 0, int(neg.sum()))
        return th

    th, th_out = thresholds(n_h, max(shifts[:2])), thresholds(n_out, shifts[2] + 2)
    rng_b = chip.bias_range
    bias = rng.integers(rng_b.lo, rng_b.hi + 1, n_h) * (rng.random(n_h) < 0.3)
    bias_out = rng.integers(rng_b.lo, rng_b.hi + 1, n_out) * (rng.random(n_out) < 0.3)
    aliases = [(int(rng.integers(0, n_h)),) if rng.random() < p_alias and n_h > 1 else () for _ in range(n_h)]
    aliases = [tuple(a for a in al if a != h) for h, al in enumerate(aliases)]
    return XyloSpec(
        chip=chip.name,
        weights_in=weights((n_in, n_h, n_syn), 0.5),
        weights_rec=weights((n_h, n_h, n_syn), 0.2),
        weights_out=weights((n_h, n_out), 0.5),
        dash_mem=dashes(n_h),
        dash_syn=dashes(n_h),
        dash_syn_2=dashes(n_h),
        dash_mem_out=dashes(n_out),
        dash_syn_out=dashes(n_out),
        threshold=th,
        threshold_out=th_out,
        bias=bias,
        bias_out=bias_out,
        weight_shift_in=shifts[0],
        weight_shift_rec=shifts[1],
        weight_shift_out=shifts[2],
        aliases=aliases,
    )


def compare(spec: XyloSpec, raster: np.ndarray) -> tuple[int, int]:
    """Assert equality with xylosim on every clip; returns (clips, clips where event order mattered)."""
    res = XyloExactNet(spec)(raster, record=True)
    out = res.to_recording()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        summed = XyloExactNet(spec, ordered_events=False)(raster).saturation.numpy()
    layer = xylosim_layer(spec)
    for b in range(raster.shape[0]):
        ref = xylosim_run(layer, raster[b], spec.n_synapses)
        for name, expect in ref.items():
            got = getattr(out, name)[b]
            assert got.shape == expect.shape, (name, got.shape, expect.shape)
            assert np.array_equal(got, expect), f"clip {b} field {name}: first diff at {np.argwhere(got != expect)[0]}"
    return raster.shape[0], int((summed != 0).sum())


def random_raster(rng: np.random.Generator, n_in: int, batch: int = 4) -> np.ndarray:
    t = int(rng.integers(1, 51))
    counts = rng.integers(0, 4, size=(batch, t, n_in)) * (rng.random((batch, t, n_in)) < 0.3)
    counts[rng.random(counts.shape) < 0.01] = 20  # beyond the 15-event clamp
    return counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chip=st.sampled_from(available_chips()), two_syn=st.booleans())
def test_random_specs_match_xylosim(seed: int, chip: str, two_syn: bool) -> None:
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, chip, two_syn)
    compare(spec, random_raster(rng, spec.n_inputs))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chip=st.sampled_from(available_chips()))
def test_alias_chains_and_negative_thresholds_match_xylosim(seed: int, chip: str) -> None:
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, chip, True, p_alias=0.6, p_negative_th=0.1)
    compare(spec, random_raster(rng, spec.n_inputs))


def test_random_specs_exercise_event_order() -> None:
    """The random specs above include clips where per-event order matters, and clips where it does not
    (fixed seeds, so the test is the same when run alone)."""
    compared = flagged = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        spec = random_spec(rng, available_chips()[seed % len(available_chips())], seed % 2 == 0)
        c, f = compare(spec, random_raster(rng, spec.n_inputs))
        compared, flagged = compared + c, flagged + f
    assert 0 < flagged < compared, (flagged, compared)


# --- exact-model specifics of two probes (every probe runs on every engine in tests/conformance) -----------
def test_probe_p8_same_sign_saturation_is_not_flagged() -> None:
    probe = PROBES_BY_NAME["P8 same-sign saturation, vmem saturation fires"]
    res = XyloExactNet(probe.spec, strict=False)(np.array(probe.raster), record=True)
    assert int(res.saturation) == 0 and res.isyn[:, 0].tolist() == probe.expect["isyn"]


def test_probe_p19_per_event_saturation() -> None:
    """Default: delivered event by event like the chip (0); ordered_events=False flags the step sum (32255)."""
    spec = PROBES_BY_NAME["P19 per-event saturation, order dependent"].spec
    exact = XyloExactNet(spec, strict=False)(np.array([[2, 1]]), record=True)
    assert xylosim_run(xylosim_layer(spec), np.array([[2, 1]]), 2)["isyn"].tolist() == [[0]]
    assert exact.isyn.tolist() == [[0]] and int(exact.saturation) == 0
    with pytest.warns(ExactSaturationWarning, match=r"step 0, hidden neuron 0 synapse 1"):
        summed = XyloExactNet(spec, strict=False, ordered_events=False)(np.array([[2, 1]]), record=True)
    assert int(summed.saturation) == 1 and summed.isyn.tolist() == [[32255]]


# --- against the reference backend, and fine-tuned accuracy on xylosim -----------------------------------
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chip=st.sampled_from(available_chips()), two_syn=st.booleans())
def test_random_specs_match_reference_backend(seed: int, chip: str, two_syn: bool) -> None:
    from xylodeploy.backends import get_backend

    rng = np.random.default_rng(seed)
    spec = random_spec(rng, chip, two_syn, p_negative_th=0.05)
    raster = random_raster(rng, spec.n_inputs)
    backend = get_backend("reference")
    backend.load(spec)
    ref = backend.run(raster, record=True)
    res = XyloExactNet(spec)(raster, record=True)
    for name, expect in ref.fields().items():
        got = getattr(res.to_recording(), name)
        assert got is not None and np.array_equal(got, expect), name


def test_finetuned_accuracy_is_the_xylosim_accuracy() -> None:
    from xylodeploy.train.finetune import finetune_exact

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 48)
    rate = np.where((np.arange(4)[None, :] // 2) == y[:, None], 0.8, 0.1)[:, None, :]
    x = rng.poisson(rate, (48, 15, 4))
    spec = empty_spec(
        "xylo-audio3",
        4,
        6,
        2,
        2,
        weights_in=rng.integers(0, 60, (4, 6, 2)),
        weights_rec=rng.integers(-20, 20, (6, 6, 2)),
        weights_out=rng.integers(-40, 40, (6, 2)),
        threshold=np.full(6, 200),
        threshold_out=np.full(2, 800),
        dash_syn_2=np.full(6, 3),
    )
    new, report = finetune_exact(spec, (x[:32], y[:32]), (x[32:], y[32:]), epochs=2, lr=1.0, progress=False)
    assert report.saturation_steps == 0
    layer = xylosim_layer(new)
    pred = [int(np.argmax(xylosim_run(layer, clip, 2)["vmem_out"].max(0))) for clip in x[32:]]
    assert np.mean(np.array(pred) == y[32:]) == report.best_val_accuracy
