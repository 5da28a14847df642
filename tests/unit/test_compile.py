"""compile(): a trained tiny SynNet becomes a spec that passes the design rules on every chip and runs
bit-exactly in the exact torch mode, the reference simulator and xylosim; stages, provenance, errors,
fine-tuning (best-epoch selection) and the model left untouched."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tests.support.fixtures_small import params_snapshot, train_tiny
from xylodeploy.backends import get_backend
from xylodeploy.backends.base import Recording
from xylodeploy.chips import available_chips, get_chip
from xylodeploy.drc import check
from xylodeploy.errors import ConfigError, QuantizationError
from xylodeploy.extract import HopDelayWarning
from xylodeploy.flow.compile import CompileOptions, compile
from xylodeploy.flow.report import dequantized_weights
from xylodeploy.ir import XyloSpec
from xylodeploy.models.exact import ExactSaturationWarning, XyloExactNet
from xylodeploy.models.lif import LIFLayer
from xylodeploy.readout import ReadoutRule

CHIPS = ("xylo-audio2", "xylo-imu", "xylo-audio3")
BASE_STAGES = ["extract", "quantize_time_constants", "quantize_weights", "map", "check"]


@pytest.fixture(scope="module")
def vmem_run(tmp_path_factory):
    """(model, splits) of a tiny SynNet trained 2 epochs with a Vmem readout (ce_mean)."""
    model, _, splits = train_tiny(tmp_path_factory.mktemp("vmem"))
    return model, splits


@pytest.fixture(scope="module")
def spikes_run(tmp_path_factory):
    """(model, splits) of a tiny SynNet trained with a spiking readout (ce_count)."""
    model, _, splits = train_tiny(
        tmp_path_factory.mktemp("spikes"), model={"output": "spikes"}, train={"loss": "ce_count", "epochs": 1}
    )
    return model, splits


def exact_recording(spec: XyloSpec, x: np.ndarray) -> Recording:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        return XyloExactNet(spec, trainable=()).forward(torch.as_tensor(x), record=True).to_recording()


def assert_same_recordings(a: Recording, b: Recording, what: str) -> None:
    fa, fb = a.fields(), b.fields()
    assert set(fa) == set(fb) and "vmem" in fa and "vmem_out" in fa, what
    for k in fa:
        assert fa[k].shape == fb[k].shape, f"{what}: {k} shape"
        assert np.array_equal(fa[k], fb[k]), f"{what}: {k} differs at {np.argwhere(fa[k] != fb[k])[:3].tolist()}"


def test_chips_under_test_are_the_shipped_ones() -> None:
    assert set(CHIPS) == set(available_chips())


@pytest.mark.parametrize("chip", CHIPS)
def test_trained_vmem_model_bit_exact_on_every_stage(vmem_run, chip: str) -> None:
    model, splits = vmem_run
    dep = compile(model, chip, calibration=splits.train.spikes)
    spec = dep.spec
    assert spec.chip == get_chip(chip).name and check(spec) == []
    assert (spec.n_inputs, spec.n_hidden, spec.n_outputs) == (16, 16, 6)
    for group, (w, deq) in dequantized_weights(dep).items():  # int8 weights: within a few LSB of the float ones
        assert w.shape == deq.shape and np.abs(w - deq).max() <= np.abs(w).max() / 64, group
    x = splits.test.spikes
    ref_backend = get_backend("reference")
    ref_backend.load(spec)
    ref = ref_backend.run(x, record=True)
    assert ref.spikes.sum() > 0 and np.abs(ref.vmem_out).max() > 0  # the network is active
    assert_same_recordings(exact_recording(spec, x), ref, f"exact vs reference on {chip}")
    sim = get_backend("xylosim")
    sim.load(spec)
    assert_same_recordings(sim.run(x[:3], record=True), Recording(**{k: v[:3] for k, v in ref.fields().items()}),
                           f"xylosim vs reference on {chip}")  # fmt: skip


def test_spiking_readout_model_bit_exact_and_count_rule(spikes_run) -> None:
    model, splits = spikes_run
    dep = compile(model, "xylo-audio3")  # no calibration needed for a spiking readout
    assert dep.readout_mode == "spikes" and "calibrate" not in [s.name for s in dep.stages]
    assert ReadoutRule.from_spec(dep.spec) == ReadoutRule("spikes", "count")
    assert dep.spec.provenance["readout_rule"] == {"quantity": "spikes", "pooling": "count"}
    ref = get_backend("reference")
    ref.load(dep.spec)
    assert_same_recordings(exact_recording(dep.spec, splits.test.spikes), ref.run(splits.test.spikes, record=True),
                           "exact vs reference, spiking readout")  # fmt: skip


def test_stages_and_provenance(vmem_run, tmp_path) -> None:
    model, splits = vmem_run
    source = {"checkpoint": "runs/x/best.pt", "sha256": "ab" * 32}
    opts = CompileOptions(method="global", headroom_bits=3, readout_pooling="mean")
    dep = compile(model, get_chip("xylo-imu"), opts, calibration=splits.train.spikes[:20], source=source)
    names = [s.name for s in dep.stages]
    assert names == ["calibrate", *BASE_STAGES]
    assert all(s.seconds >= 0 for s in dep.stages)
    assert dep.stages[3].settings["method"] == "global" and dep.stages[3].settings["headroom_bits"] == 3
    assert dep.stages[3].settings["readout_vmem_range"] > 0
    prov = dep.spec.provenance
    assert [s["name"] for s in prov["stages"]] == names
    assert prov["readout_rule"] == {"quantity": "vmem", "pooling": "mean"} and prov["readout_mode"] == "vmem"
    assert prov["source"] == source and prov["xylodeploy_version"]
    assert ReadoutRule.from_spec(dep.spec) == ReadoutRule("vmem", "mean")
    dep.spec.save(tmp_path / "m.xylo")
    loaded = XyloSpec.load(tmp_path / "m.xylo")
    assert loaded.provenance["stages"] == prov["stages"] and loaded.provenance["source"] == source
    default = compile(model, "xylo-imu", calibration=splits.train.spikes[:20])
    # default rule = the default training loss (ce_mean): mean readout Vmem
    assert default.spec.provenance["readout_rule"] == {"quantity": "vmem", "pooling": "mean"}
    assert default.spec.provenance["source"] == {}


def test_compile_is_deterministic_and_leaves_the_model_alone(vmem_run) -> None:
    model, splits = vmem_run
    model.train()
    before = params_snapshot(model)
    opts = CompileOptions(finetune_epochs=1, finetune_loss="ce_mean", readout_pooling="mean", finetune_batch_size=48)
    data = ((splits.train.spikes[:48], splits.train.labels[:48]), (splits.val.spikes, splits.val.labels))
    a = compile(model, "xylo-audio2", opts, calibration=splits.train.spikes, finetune_data=data)
    b = compile(model, "xylo-audio2", opts, calibration=splits.train.spikes, finetune_data=data)
    after = params_snapshot(model)
    assert model.training  # mode restored
    model.eval()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    for name in ("weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "bias", "bias_out"):
        assert np.array_equal(getattr(a.spec, name), getattr(b.spec, name)), name


def test_vmem_model_needs_calibration(vmem_run) -> None:
    model, _ = vmem_run
    with pytest.raises(QuantizationError, match="calibration"):
        compile(model, "xylo-audio2")
    with pytest.raises(ConfigError, match=r"calibration data: expected \(N, T, C\)"):
        compile(model, "xylo-audio2", calibration=np.zeros((200, 16)))


def test_finetune_without_data_is_a_config_error(spikes_run) -> None:
    model, _ = spikes_run
    with pytest.raises(ConfigError, match="finetune_data"):
        compile(model, "xylo-audio2", CompileOptions(finetune_epochs=1))


def test_unknown_chip_is_a_config_error(spikes_run) -> None:
    with pytest.raises(ConfigError, match="xylo-nope"):
        compile(spikes_run[0], "xylo-nope")


def _accuracy(spec: XyloSpec, x: np.ndarray, y: np.ndarray, rule: ReadoutRule) -> float:
    ref = get_backend("reference")
    ref.load(spec)
    rec = ref.run(x, record=True)
    return float(np.mean(rule.predict(rule.trace_of(rec.spikes_out, rec.vmem_out)) == y))


def test_finetuning_never_lowers_validation_accuracy(vmem_run) -> None:
    model, splits = vmem_run
    val = (splits.val.spikes, splits.val.labels)
    base_opts = CompileOptions(finetune_loss="ce_mean", readout_pooling="mean")
    plain = compile(model, "xylo-audio2", base_opts, calibration=splits.train.spikes)
    opts = CompileOptions(finetune_epochs=3, finetune_lr=0.5, finetune_loss="ce_mean", readout_pooling="mean")
    ft = compile(model, "xylo-audio2", opts, calibration=splits.train.spikes,
                 finetune_data=((splits.train.spikes, splits.train.labels), val))  # fmt: skip
    assert [s.name for s in ft.stages] == ["calibrate", *BASE_STAGES[:-1], "finetune_exact", "check"]
    rep = ft.finetune
    assert rep is not None and len(rep.history) == 4
    rule = ReadoutRule.from_spec(ft.spec)
    acc_plain, acc_ft = _accuracy(plain.spec, *val, rule), _accuracy(ft.spec, *val, rule)
    # measured independently on the reference simulator with the spec's own readout rule
    assert rep.initial_val_accuracy == pytest.approx(acc_plain)
    assert rep.best_val_accuracy == pytest.approx(acc_ft)
    assert acc_ft >= acc_plain
    assert rep.best_val_accuracy == max(h["val_accuracy"] for h in rep.history)
    assert check(ft.spec) == []
    if rep.best_epoch == 0:
        assert np.array_equal(ft.spec.weights_in, plain.spec.weights_in)


def test_sequential_model_compiles_with_spike_readout() -> None:
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(8, 10, bias=False), LIFLayer(10, has_rec=True), nn.Linear(10, 3, bias=False),
                        LIFLayer(3, max_spikes=1))  # fmt: skip
    with pytest.warns(HopDelayWarning):
        dep = compile(seq, "xylo-audio2")
    assert dep.readout_mode == "spikes" and check(dep.spec) == []
    assert dep.spec.provenance["stages"][0]["settings"] == {"model": "Sequential"}
    assert np.count_nonzero(dep.spec.weights_rec) > 0


def test_calibration_with_wrong_channel_count_is_one_line_error() -> None:
    from xylodeploy.models.synnet import SynNet

    model = SynNet(3, 8, (10,), output="vmem")
    with pytest.raises(ConfigError, match="5 channels, the model has 8"):
        compile(model, "xylo-audio2", calibration=np.zeros((4, 20, 5)))
    assert model.training  # train/eval mode left as it was
