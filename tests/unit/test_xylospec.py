"""XyloSpec: validation on construction, immutability, helpers."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from xylodeploy.errors import ConfigError
from xylodeploy.ir import XyloSpec, empty_spec
from xylodeploy.ir.xylospec import ARRAY_FIELDS


def small(n_syn: int = 2, **fields: object) -> XyloSpec:
    return empty_spec("xylo-audio2", 3, 5, 2, n_syn, **fields)


def test_empty_spec_sizes_and_defaults() -> None:
    s = small()
    assert (s.n_inputs, s.n_hidden, s.n_synapses, s.n_outputs) == (3, 5, 2, 2)
    assert s.weights_in.shape == (3, 5, 2) and s.weights_rec.shape == (5, 5, 2) and s.weights_out.shape == (5, 2)
    assert all(getattr(s, f).dtype == np.int64 for f in ARRAY_FIELDS)
    assert s.aliases == ((),) * 5 and not s.has_aliases and not s.has_bias and s.uses_synapse2
    assert not small(1).uses_synapse2


def test_arrays_are_read_only_and_copied() -> None:
    w = np.zeros((3, 5, 2), np.int64)
    s = small(weights_in=w)
    w[0, 0, 0] = 7
    assert s.weights_in[0, 0, 0] == 0
    with pytest.raises(ValueError):
        s.weights_in[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.dt = 2.0  # type: ignore[misc]


def test_has_bias_any_hidden_or_readout() -> None:
    assert small(bias=np.array([0, 0, 0, 0, -1])).has_bias
    assert small(bias_out=np.array([0, 3])).has_bias


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("weights_rec", np.zeros((5, 4, 2)), "weights_rec"),
        ("weights_out", np.zeros((4, 2)), "weights_out"),
        ("dash_mem", np.zeros(4), "dash_mem"),
        ("threshold_out", np.zeros(3), "threshold_out"),
        ("weights_in", np.zeros((3, 5)), "weights_in"),
        ("threshold", np.array([1.5, 0, 0, 0, 0]), "threshold"),
        ("bias", np.array([np.nan, 0, 0, 0, 0]), "bias"),
        ("bias", np.array(["a"] * 5), "bias"),
        ("dash_syn", np.array([1e30, 0, 0, 0, 0]), "dash_syn"),
        ("dash_syn", np.array([2**64 - 1, 0, 0, 0, 0], np.uint64), "dash_syn"),
        ("weight_shift_in", 1.0, "weight_shift_in"),
        ("weight_shift_rec", True, "weight_shift_rec"),
        ("dt", float("inf"), "dt"),
        ("dt", "soon", "dt"),
        ("aliases", [()] * 4, "aliases"),
        ("aliases", [(1.5,), (), (), (), ()], "aliases"),
        ("aliases", [(True,), (), (), (), ()], "aliases"),
        ("aliases", 5, "aliases"),
        ("provenance", [1, 2], "provenance"),
    ],
)
def test_invalid_field_is_config_error_naming_it(field: str, value: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        small(**{field: value})
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_three_synapses_rejected() -> None:
    with pytest.raises(ConfigError, match="synapse axis"):
        empty_spec("xylo-audio2", 2, 3, 1, 3)


def test_float_integers_and_numpy_alias_ids_accepted() -> None:
    s = small(threshold=np.array([1.0, 2.0, 3.0, 4.0, 5.0]), aliases=[(np.int64(1),), (), (), (), ()])
    assert s.threshold.dtype == np.int64 and list(s.threshold) == [1, 2, 3, 4, 5]
    assert s.aliases[0] == (1,) and type(s.aliases[0][0]) is int


def test_replace_validates_and_equals() -> None:
    s = small(provenance={"stage": "test"})
    t = s.replace(dt=2e-3)
    assert t.dt == 2e-3 and s.dt == 1e-3
    assert not s.equals(t) and s.equals(s.replace())
    assert s.equals(s.replace(provenance={"x": 1})) and not s.equals(s.replace(provenance={"x": 1}), provenance=True)
    with pytest.raises(ConfigError):
        s.replace(weights_out=np.zeros((5, 3)))


def test_pickle_and_deepcopy_round_trip() -> None:
    s = small(aliases=[(1,), (), (), (), ()], provenance={"a": [1, 2], "b": {"c": "d"}})
    for other in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
        assert other.equals(s, provenance=True)
        assert not other.weights_in.flags.writeable
