"""Raster augmentation: each transform's statistics against hand-computed expectations."""

from __future__ import annotations

import math

import pytest
import torch

from xylodeploy.train.augment import AugmentConfig, augment_batch

OFF = {"enabled": True, "shift_ms": 0.0, "gain_sigma": 0.0, "event_drop": 0.0, "jitter_ms": 0.0, "noise_rate": 0.0}


def only(**knobs: float) -> AugmentConfig:
    return AugmentConfig(**{**OFF, **knobs})


def counts(shape=(16, 400, 16), rate=2.0, seed=0) -> torch.Tensor:
    return torch.poisson(torch.full(shape, rate), generator=torch.Generator().manual_seed(seed))


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_off_is_the_identity_and_output_is_valid_counts():
    x = counts()
    assert augment_batch(x, AugmentConfig(), 1e-3, gen()) is x  # off by default
    assert augment_batch(x, only(), 1e-3, gen()) is x
    y = augment_batch(x * 4, AugmentConfig(enabled=True), 1e-3, gen())
    assert y.shape == x.shape and torch.equal(y, y.round()) and y.min() >= 0 and y.max() <= 15


def test_event_drop_keeps_each_event_with_probability_1_minus_p():
    x = counts()
    y = augment_batch(x, only(event_drop=0.3), 1e-3, gen())
    assert (y <= x).all()
    n = float(x.sum())  # binomial thinning: sum ~ Bin(n, 0.7); 5 standard deviations
    assert abs(float(y.sum()) - 0.7 * n) < 5 * math.sqrt(n * 0.7 * 0.3)


def test_gain_thins_whole_channels_by_min_1_lognormal():
    sigma, x = 0.5, counts(shape=(400, 50, 16), rate=4.0)
    y = augment_batch(x, only(gain_sigma=sigma), 1e-3, gen())
    assert (y <= x).all()
    # E[min(1, exp(sigma Z))] = 1/2 + exp(sigma^2/2) * Phi(-sigma), Z ~ N(0, 1)
    phi = 0.5 * (1 + math.erf(-sigma / math.sqrt(2)))
    expected = 0.5 + math.exp(sigma**2 / 2) * phi
    assert float(y.sum() / x.sum()) == pytest.approx(expected, abs=0.02)
    # the gain is per clip and channel: the kept fraction varies across channels, much more than
    # binomial noise alone (Var of a channel's kept fraction ~ p(1-p)/200 events)
    frac = y.sum(1) / x.sum(1)
    assert float(frac.std()) > 0.15


def test_shift_moves_each_clip_rigidly_within_the_range():
    x = counts(shape=(8, 200, 4))
    y = augment_batch(x, only(shift_ms=10.0), 1e-3, gen())
    for xb, yb in zip(x, y, strict=True):
        matches = [s for s in range(-10, 11) if torch.equal(yb, _shifted(xb, s))]
        assert matches, "each clip is x[t - s] with zeros shifted in, |s| <= 10 steps"
    shifts = {next(s for s in range(-10, 11) if torch.equal(yb, _shifted(xb, s))) for xb, yb in zip(x, y, strict=True)}
    assert len(shifts) > 1  # per clip, not one shift for the batch


def _shifted(x: torch.Tensor, s: int) -> torch.Tensor:
    out = torch.zeros_like(x)
    if s >= 0:
        out[s:] = x[: len(x) - s]
    else:
        out[:s] = x[-s:]
    return out


def test_jitter_moves_events_by_at_most_j_and_keeps_them():
    x = torch.zeros((64, 100, 2))
    x[:, 50, 0] = 10.0  # 10 events at step 50 on channel 0 of every clip
    y = augment_batch(x, only(jitter_ms=2.0), 1e-3, gen())
    assert torch.equal(y.sum(1), x.sum(1))  # nothing lost away from the edges, no channel crossing
    assert y[:, :48].sum() == 0 and y[:, 53:].sum() == 0
    # each event lands on one of 5 offsets with equal probability: 128 events per offset expected
    per_offset = y[:, 48:53, 0].sum(0)
    assert per_offset.sum() == 640 and (per_offset - 128).abs().max() < 5 * math.sqrt(640 * 0.2 * 0.8)


def test_noise_adds_poisson_events_at_the_rate():
    x = torch.zeros((32, 500, 16))
    y = augment_batch(x, only(noise_rate=0.1), 1e-3, gen())
    n = x.numel()
    assert abs(float(y.sum()) - 0.1 * n) < 5 * math.sqrt(0.1 * n)


def test_p_leaves_the_other_clips_untouched():
    x = counts(shape=(200, 50, 4))
    y = augment_batch(x, AugmentConfig(enabled=True, p=0.5, event_drop=0.5), 1e-3, gen())
    same = torch.tensor([torch.equal(a, b) for a, b in zip(x, y, strict=True)])
    assert 60 < int(same.sum()) < 140  # Bin(200, 0.5): mean 100, sd 7


def test_hidden_spike_dropout_is_training_only_and_not_in_the_extracted_graph():
    import numpy as np

    from xylodeploy.extract import extract
    from xylodeploy.models import SynNet

    torch.manual_seed(3)
    drop = SynNet(3, 4, [8], [2], threshold=0.2, p_dropout=0.5, output="vmem")
    plain = SynNet(3, 4, [8], [2], threshold=0.2, p_dropout=0.0, output="vmem")
    plain.load_state_dict(drop.state_dict())
    x = counts(shape=(2, 50, 4), rate=1.0)
    drop.train()
    assert not torch.equal(drop(x), plain.eval()(x))  # dropout acts in training
    assert torch.equal(drop.eval()(x), plain(x))  # and nowhere else
    ga, gb = extract(drop), extract(plain)
    assert [repr(p) for p in ga.populations] == [repr(p) for p in gb.populations]
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(ga.connections, gb.connections, strict=True))


def test_bad_augment_and_budget_keys_are_one_line_config_errors():
    from xylodeploy.errors import ConfigError
    from xylodeploy.flow.pipeline import PipelineConfig
    from xylodeploy.train.config import config_from_dict

    with pytest.raises(ConfigError, match=r"^x.yaml: augment.event_drop: must be < 1 \(got 1.0\)$"):
        config_from_dict({"augment": {"event_drop": 1.0}}, "x.yaml")
    with pytest.raises(ConfigError, match=r"augment.shiftms: unknown key \(allowed: enabled, p, shift_ms"):
        config_from_dict({"augment": {"shiftms": 3}}, "x.yaml")
    with pytest.raises(ConfigError, match=r"^x.yaml: train.max_minutes: must be > 0 \(got -1\)$"):
        config_from_dict({"train": {"max_minutes": -1}}, "x.yaml", PipelineConfig)
