"""The embedded burst-order task: determinism, splits, caps, and that order (not counts) is the label."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.data.synthetic import BurstTask, generate, generate_splits
from xylodeploy.errors import ConfigError

TASK = BurstTask()


@pytest.fixture(scope="module")
def splits():
    return generate_splits(TASK, 300, 30, 150, seed=3)


def test_deterministic_in_seed_and_split():
    a, b = generate(TASK, 24, seed=1), generate(TASK, 24, seed=1)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.spikes, generate(TASK, 24, seed=2).spikes)
    assert not np.array_equal(a.spikes, generate(TASK, 24, seed=1, split="test").spikes)


def test_splits_are_disjoint(splits):
    seen = {s.tobytes() for s in splits.train.spikes}
    assert not any(s.tobytes() in seen for s in splits.test.spikes)
    assert not any(s.tobytes() in seen for s in splits.val.spikes)


def test_shape_caps_and_balance(splits):
    ds = splits.train
    assert ds.spikes.shape == (300, TASK.n_steps, TASK.n_channels) and ds.spikes.dtype == np.uint8
    assert ds.spikes.max() <= TASK.max_count
    assert np.bincount(ds.labels).tolist() == [50] * 6
    assert ds.classes == ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


def _centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    mu = np.stack([train_x[train_y == k].mean(0) for k in range(int(train_y.max()) + 1)])
    pred = np.argmin(((test_x[:, None] - mu[None]) ** 2).sum(-1), axis=1)
    return float((pred == test_y).mean())


def test_spike_counts_alone_are_near_chance(splits):
    tr, te = splits.train, splits.test
    acc = _centroid_accuracy(tr.spikes.sum(1).astype(float), tr.labels, te.spikes.sum(1).astype(float), te.labels)
    assert acc < 1 / 6 + 0.08, acc


def test_burst_order_determines_the_label(splits):
    """An independent decoder: order the class groups by their centre of mass in time."""
    te = splits.test
    t = np.arange(te.n_steps)
    centres = []
    for g in range(TASK.n_bursts):
        x = te.spikes[:, :, TASK.group_channels(g)].sum(2).astype(float)
        centres.append((x * t).sum(1) / x.sum(1))
    order = np.argsort(np.stack(centres, 1), axis=1)
    pred = np.array([TASK.permutations().index(tuple(o)) for o in order])
    assert (pred == te.labels).mean() > 0.95
    # and the temporal structure is what carries it: coarse time bins make a count classifier work
    tr = splits.train
    binned = lambda d: d.spikes.reshape(len(d), 9, -1, d.n_channels).sum(2).reshape(len(d), -1).astype(float)  # noqa: E731
    assert _centroid_accuracy(binned(tr), tr.labels, binned(te), te.labels) > 0.4


def test_bad_task_parameters():
    with pytest.raises(ConfigError, match="n_classes"):
        BurstTask(n_classes=7)
    with pytest.raises(ConfigError, match="n_groups"):
        BurstTask(n_groups=2)
    with pytest.raises(ConfigError, match="split"):
        generate(TASK, 2, 0, split="dev")
