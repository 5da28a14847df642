"""ReadoutRule: pooling of hand-made readout traces, rule <-> training loss mapping, rule from a spec."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xylodeploy.errors import ConfigError
from xylodeploy.ir import empty_spec
from xylodeploy.readout import ReadoutRule
from xylodeploy.train.losses import predict as train_predict

# clip 0: class 0 has the highest peak, class 1 the highest mean, class 2 the most spikes (sum)
# clip 1: all three classes tie on every pooling -> the lowest index wins
TRACE = np.array(
    [
        [[9, 4, 3], [0, 4, 3], [0, 4, 3], [0, 4, 3]],
        [[1, 1, 1], [2, 2, 2], [0, 0, 0], [1, 1, 1]],
    ]
)


@pytest.mark.parametrize(
    ("pooling", "scores", "pred"),
    [
        ("max", [[9, 4, 3], [2, 2, 2]], [0, 0]),
        ("mean", [[2.25, 4, 3], [1, 1, 1]], [1, 0]),
        ("count", [[9, 16, 12], [4, 4, 4]], [1, 0]),
    ],
)
def test_pooling_on_hand_made_traces(pooling: str, scores: list, pred: list) -> None:
    rule = ReadoutRule("vmem", pooling)
    assert np.allclose(rule.scores(TRACE), scores)
    assert rule.predict(TRACE).tolist() == pred


def test_count_of_spikes() -> None:
    spikes = np.zeros((1, 10, 4), dtype=np.int8)
    spikes[0, [1, 5, 7], 2] = 1
    spikes[0, [0, 3], 1] = 1
    spikes[0, 9, 3] = 1
    rule = ReadoutRule("spikes", "count")
    assert rule.scores(spikes).tolist() == [[0, 2, 3, 1]] and rule.predict(spikes).tolist() == [2]
    assert not rule.needs_state and ReadoutRule("vmem", "max").needs_state


def test_negative_membrane_max_and_mean() -> None:
    trace = -np.arange(1, 13, dtype=float).reshape(1, 4, 3)  # every value negative, class 0 least negative
    assert ReadoutRule("vmem", "max").predict(trace).tolist() == [0]
    assert ReadoutRule("vmem", "mean").predict(trace).tolist() == [0]


@pytest.mark.parametrize(
    ("output", "loss", "pooling"),
    [
        ("vmem", "ce_max", "max"),
        ("vmem", "ce_mean", "mean"),
        ("spikes", "ce_count", "count"),
        ("spikes", "ce_max", "max"),
    ],
)
def test_from_training(output: str, loss: str, pooling: str) -> None:
    rule = ReadoutRule.from_training(output, loss)
    assert rule == ReadoutRule(output, pooling) and rule.loss_name == loss


SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5))


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.int64, SHAPES, elements=st.integers(-9, 9)),
    st.sampled_from(["ce_max", "ce_mean", "ce_count"]),
)
def test_predictions_match_the_training_losses(trace: np.ndarray, loss: str) -> None:
    """The rule predicts what float training's `predict` does for the matching loss (ties: lowest index)."""
    rule = ReadoutRule.from_training("vmem", loss)
    torch_pred = train_predict(torch.as_tensor(trace, dtype=torch.float64), loss).numpy()
    assert rule.predict(trace).tolist() == torch_pred.tolist()


def test_invalid_rules_and_inputs() -> None:
    with pytest.raises(ConfigError, match="ce_sum"):
        ReadoutRule.from_training("vmem", "ce_sum")
    with pytest.raises(ConfigError, match="isyn/max"):
        ReadoutRule("isyn", "max")
    with pytest.raises(ConfigError, match="vmem/median"):
        ReadoutRule("vmem", "median")
    with pytest.raises(ConfigError, match=r"\(batch, time, classes\).*\(4, 3\)"):
        ReadoutRule("vmem", "max").predict(np.zeros((4, 3)))
    with pytest.raises(ConfigError, match="readout vmem, which was not recorded"):
        ReadoutRule("vmem", "max").trace_of(np.zeros((1, 2, 3)), None)
    spikes, vmem = np.ones((1, 2, 3)), np.zeros((1, 2, 3))
    assert ReadoutRule("spikes", "count").trace_of(spikes, vmem) is spikes
    assert ReadoutRule("vmem", "mean").trace_of(spikes, vmem) is vmem


def test_from_spec_default_and_recorded() -> None:
    spec = empty_spec("xylo-audio2", 2, 3, 2)
    assert ReadoutRule.from_spec(spec) == ReadoutRule("spikes", "count")
    tagged = spec.replace(provenance={"readout_rule": {"quantity": "vmem", "pooling": "mean"}})
    assert ReadoutRule.from_spec(tagged) == ReadoutRule("vmem", "mean")
    with pytest.raises(ConfigError):
        ReadoutRule.from_spec(spec.replace(provenance={"readout_rule": {"quantity": "vmem", "pooling": "p99"}}))
