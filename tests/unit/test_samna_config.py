"""XyloSpec <-> samna configuration: every parameter survives the round trip, layout rules hold."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends.samna.config import config_to_spec, spec_to_config
from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import empty_spec

CHIPS = ["xylo-audio2", "xylo-imu", "xylo-audio3"]


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("n_h", [20, 200])
def test_round_trip_every_parameter(fake_samna, chip, n_h):
    samna = fake_samna([])
    spec = random_spec(chip, seed=n_h, n_h=n_h)
    config = spec_to_config(spec, samna)
    ok, msg = getattr(samna, get_chip(chip).samna_namespace).validate_configuration(config)
    assert ok, msg
    back = config_to_spec(config, chip, spec.n_inputs, spec.dt)
    assert back.equals(spec)


@pytest.mark.parametrize("chip", CHIPS)
def test_attributes_rockpool_drops_are_written(fake_samna, chip):
    spec = random_spec(chip)
    config = spec_to_config(spec, fake_samna([]))
    hidden = config.reservoir if chip == "xylo-audio2" else config.hidden
    assert [n.v_mem_bias for n in hidden.neurons] == spec.bias.tolist()  # hidden biases kept (§8.2)
    assert hidden.neurons[-1].alias_target == 0 and hidden.aliasing  # alias to neuron 0 kept (§8.6)
    assert hidden.neurons[0].alias_target is None
    assert config.bias_enable
    no_alias = spec_to_config(spec.replace(aliases=None), fake_samna([]))
    assert not (no_alias.reservoir if chip == "xylo-audio2" else no_alias.hidden).aliasing


@pytest.mark.parametrize("chip", ["xylo-imu", "xylo-audio3"])
def test_ien_oen_layout(fake_samna, chip):
    spec = random_spec(chip, n_h=200)
    config = spec_to_config(spec, fake_samna([]))
    assert np.asarray(config.input.weights).shape == (spec.n_inputs, 128)  # first 128 hidden neurons
    assert np.array_equal(config.readout.weights, spec.weights_out[-128:])  # last 128
    w_in = spec.weights_in.copy()
    w_in[0, 150, 0] = 5
    with pytest.raises(ConfigError, match="hidden neuron 150 receives input"):
        spec_to_config(spec.replace(weights_in=w_in), fake_samna([]))
    w_out = spec.weights_out.copy()
    w_out[3, 0] = 7
    with pytest.raises(ConfigError, match="hidden neuron 3 drives the readout"):
        spec_to_config(spec.replace(weights_out=w_out), fake_samna([]))


def test_imu_refuses_two_synapses(fake_samna):
    spec = empty_spec("xylo-imu", 2, 3, 1, 2)
    with pytest.raises(ConfigError, match="2 synapses"):
        spec_to_config(spec, fake_samna([]))


def test_one_synapse_spec_on_two_synapse_chip(fake_samna):
    spec = random_spec("xylo-imu").replace(chip="xylo-audio3")
    config = spec_to_config(spec, fake_samna([]))
    assert config.synapse2_enable is False
    assert config_to_spec(config, "xylo-audio3", spec.n_inputs).n_synapses == 1


def test_every_chip_has_a_dialect_and_dialects_are_built_by_keyword():
    from dataclasses import asdict

    from xylodeploy.backends.samna.config import DIALECTS, Dialect, dialect

    for chip in CHIPS:
        assert dialect(get_chip(chip)) is DIALECTS[get_chip(chip).samna_namespace]
    a2 = asdict(DIALECTS["xyloCore2"])
    assert a2["hidden_group"] == "reservoir" and a2["input_registers"] == (0x11, 0x12, 0x13, 0x14)
    with pytest.raises(TypeError):
        Dialect(*a2.values())  # positional construction is refused: chip differences are data by keyword
