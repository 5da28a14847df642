"""validate(): identical stages agree bit for bit; a perturbed fake backend yields the right first divergence
(layer from the mapping provenance, clip, step, neuron); float-vs-chip divergences name their layer."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch

from xylodeploy.backends import get_backend
from xylodeploy.backends.base import Recording
from xylodeploy.errors import ConfigError
from xylodeploy.flow.compile import compile
from xylodeploy.flow.validate import layer_of, validate
from xylodeploy.models import SynNet
from xylodeploy.readout import ReadoutRule

N_IN, SIZES, N_OUT = 12, (10, 8), 4


@pytest.fixture(scope="module")
def net():
    """(float SynNet with two hidden layers, its compiled spec, clips, labels)."""
    torch.manual_seed(0)
    model = SynNet(N_OUT, N_IN, size_hidden_layers=SIZES, time_constants_per_layer=(3, 2), output="vmem")
    with torch.no_grad():
        for w in model.weights:
            w.mul_(3)
    model.eval()
    gen = np.random.default_rng(0)
    x = gen.poisson(0.3, (24, 60, N_IN)).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = compile(model, "xylo-audio2", calibration=x).spec
    y = gen.integers(0, N_OUT, len(x))
    return model, spec, x, y


class FlipBackend:
    """The reference simulator, with chosen recorded values changed: ``flips`` = [(quantity, clip, step, neuron)]."""

    def __init__(self, flips: list[tuple[str, int, int, int]]) -> None:
        self.inner = get_backend("reference")
        self.flips = flips
        self.offset = 0  # clips already run (validate runs chunks in order)

    def load(self, spec) -> None:  # noqa: ANN001
        self.inner.load(spec)

    def reset(self) -> None:
        self.inner.reset()

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        rec = self.inner.run(raster, record=record)
        arrays = {k: v.copy() for k, v in rec.fields().items()}
        for q, c, t, n in self.flips:
            if self.offset <= c < self.offset + len(raster):
                arrays[q][c - self.offset, t, n] += 1
        self.offset += len(raster)
        return Recording(**arrays)


def _pair(report, a: str, b: str):
    return next(p for p in report.pairs if (p.a, p.b) == (a, b))


def test_layer_of_uses_the_mapping_provenance(net) -> None:
    spec = net[1]
    pops = spec.provenance["mapping"]["populations"]
    assert set(pops) == {"hidden0", "hidden1"}
    h1 = int(pops["hidden1"]["start"])
    assert layer_of(spec, h1 + 3, "vmem") == ("hidden1", 3)
    assert layer_of(spec, int(pops["hidden0"]["start"]) + 1, "spikes") == ("hidden0", 1)
    assert layer_of(spec, 2, "vmem_out") == ("readout", 2)


def test_identical_stages_are_bit_exact(net) -> None:
    model, spec, x, y = net
    report = validate(spec, x, y, model=model, backends=("reference", "xylosim"), max_clips={"xylosim": 3},
                      batch_size=12)  # fmt: skip
    assert report.ok
    assert list(report.stages) == ["float", "exact", "reference", "xylosim"]
    assert [report.stages[n].n_clips for n in report.stages] == [24, 24, 24, 3]
    integer_pairs = [p for p in report.pairs if p.a != "float"]
    expected = {("exact", "reference"), ("exact", "xylosim"), ("reference", "xylosim")}
    assert {(p.a, p.b) for p in integer_pairs} == expected
    for p in integer_pairs:
        assert p.bit_exact is True and p.prediction_agreement == 1.0 and p.first_divergence is None
    assert _pair(report, "float", "reference").bit_exact is None
    # accuracies, measured independently
    rule = ReadoutRule.from_spec(spec)
    ref = get_backend("reference")
    ref.load(spec)
    chip_pred = rule.predict(ref.run(x, record=True).vmem_out)
    with torch.no_grad():
        float_pred = rule.predict(model(torch.as_tensor(x, dtype=torch.float32)).numpy())
    assert report.stages["reference"].accuracy == pytest.approx(np.mean(chip_pred == y))
    assert report.stages["xylosim"].accuracy == pytest.approx(np.mean(chip_pred[:3] == y[:3]))
    assert report.stages["float"].accuracy == pytest.approx(np.mean(float_pred == y))
    assert _pair(report, "float", "reference").prediction_agreement == pytest.approx(np.mean(float_pred == chip_pred))
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["ok"] is True and doc["stages"]["xylosim"]["n_clips"] == 3


@pytest.mark.parametrize(
    ("flips", "expected", "exact"),
    [
        # hidden1's neuron 2 membrane, clip 13 (second chunk of 8), step 37; a later flip in clip 20 is not first
        ([("vmem", 20, 0, 0), ("vmem", 13, 37, "hidden1+2")], ("vmem", "hidden1", 13, 37, 2), True),
        # same step: spikes_out is compared before states; within a quantity the lowest neuron wins
        ([("vmem", 2, 11, "hidden0+4"), ("spikes_out", 2, 11, 3)], ("spikes_out", "readout", 2, 11, 3), False),
        ([("isyn", 0, 3, "hidden0+7"), ("isyn", 0, 3, "hidden1+1")], ("isyn", "hidden0", 0, 3, 7), False),
        ([("vmem_out", 23, 59, 1)], ("vmem_out", "readout", 23, 59, 1), False),
    ],
)
def test_perturbed_backend_first_divergence(net, flips, expected, exact: bool) -> None:
    _, spec, x, y = net
    pops = spec.provenance["mapping"]["populations"]

    def neuron(n):  # noqa: ANN001, ANN202
        if isinstance(n, str):
            name, k = n.split("+")
            return int(pops[name]["start"]) + int(k)
        return n

    fake = FlipBackend([(q, c, t, neuron(n)) for q, c, t, n in flips])
    ref = get_backend("reference")
    ref.load(spec)
    truth = ref.run(x, record=True)
    report = validate(spec, x, y, backends=("reference", "fake"), exact_torch=exact, batch_size=8,
                      device_backends={"fake": fake})  # fmt: skip
    assert not report.ok
    if exact:
        assert _pair(report, "exact", "reference").bit_exact is True
    for a in ("exact", "reference") if exact else ("reference",):
        pair = _pair(report, a, "fake")
        assert pair.bit_exact is False
        d = pair.first_divergence
        assert d is not None and d.stages == f"{a} vs fake"
        assert (d.quantity, d.layer, d.clip, d.step, d.neuron) == expected
        q, _, c, t, _ = expected
        n = neuron(next(f[3] for f in flips if (f[0], f[1], f[2]) == (q, c, t)))
        assert (d.a, d.b) == (getattr(truth, q)[c, t, n], getattr(truth, q)[c, t, n] + 1)
        assert f"layer '{expected[1]}' {q}, clip {c}, step {t}, neuron {expected[4]}" in str(d)
    assert "first divergence" in report.to_dict()["pairs"][-1]["first_divergence"]


def test_float_vs_chip_divergence_names_the_layer(net) -> None:
    model, spec, x, _ = net
    report = validate(spec, x, model=model, backends=("reference",), exact_torch=False, batch_size=8)
    pair = _pair(report, "float", "reference")
    assert pair.bit_exact is None and report.ok  # the float model is not required to be bit-exact
    d = pair.first_divergence
    assert d is not None and d.stages == "float vs chip" and d.quantity == "spikes"
    # independently: the first (clip, step, neuron) where the float hidden spikes differ from the chip's
    with torch.no_grad():
        rec = model.record(torch.as_tensor(x, dtype=torch.float32))
    pops = spec.provenance["mapping"]["populations"]
    float_spikes = np.zeros((len(x), x.shape[1], spec.n_hidden))
    for i, h in enumerate(rec.hidden):
        r = pops[f"hidden{i}"]
        float_spikes[:, :, int(r["start"]) : int(r["stop"])] = h.spikes.numpy()
    ref = get_backend("reference")
    ref.load(spec)
    chip = ref.run(x, record=True).spikes
    c, t, n = min(tuple(int(v) for v in idx) for idx in np.argwhere(float_spikes != chip))
    name, k = layer_of(spec, n, "spikes")
    assert (d.clip, d.step, d.layer, d.neuron) == (c, t, name, k)
    assert (d.a, d.b) == (float_spikes[c, t, n], chip[c, t, n])
    assert report.stages["float"].accuracy is None  # no labels


def test_model_mode_restored_and_bad_inputs(net) -> None:
    model, spec, x, y = net
    model.train()
    validate(spec, x[:2], model=model, backends=(), exact_torch=True)
    assert model.training
    model.eval()
    with pytest.raises(ConfigError, match="3 labels for 24 clips"):
        validate(spec, x, y[:3], backends=("reference",))
    with pytest.raises(ConfigError):
        validate(spec, x[:, :, :5], backends=("reference",))


def test_max_clips_and_replaceable_stage_results(net) -> None:
    _, spec, x, y = net
    report = validate(spec, x, y, backends=("reference",), max_clips={"exact": 5}, batch_size=4)  # 2 exact chunks
    assert report.stages["exact"].n_clips == 5 and report.stages["reference"].n_clips == 24
    pair = _pair(report, "exact", "reference")
    assert pair.bit_exact is True and pair.prediction_agreement == 1.0
    assert dataclasses.asdict(report.stages["exact"])["n_clips"] == 5
