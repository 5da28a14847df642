"""The stand-in is as strict as samna (docs/samna-driver.md): the facts the driver tests rely on."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.backends.samna.config import spec_to_config

FAST = dict(min_timeout_s=0.3, timeout_per_neuron_step_s=0.0)


def test_accessors_and_attributes_per_chip(fake_samna):
    samna = fake_samna(["xylo-audio2", "xylo-imu", "xylo-audio3"])
    a2, imu, a3 = samna.boards
    assert hasattr(a2, "get_xylo_model") and not hasattr(a2, "get_model") and not hasattr(a2, "reset_board_soft")
    assert (
        hasattr(imu, "get_model")
        and not hasattr(imu, "get_xylo_model")
        and hasattr(imu, "enable_manual_input_acceleration")
    )
    assert not hasattr(a3, "enable_manual_input_acceleration") and not hasattr(a3, "get_afe_model")
    with pytest.raises(AttributeError):
        samna.xyloImu.configuration.XyloConfiguration().synapse2_enable = True
    with pytest.raises(AttributeError):
        samna.xyloCore2.configuration.XyloConfiguration().time_resolution_wrap = 10
    assert not hasattr(samna.xyloAudio3.configuration, "NeuronRange")
    assert not hasattr(samna.xyloCore2.event.Readout(), "output_spikes")  # A2 states come from the sink
    assert not hasattr(samna.xyloImu.event.Readout(), "neuron_i_syn2s")
    assert not hasattr(samna.xyloCore2.event.TriggerProcessing(), "target_timestep")


def test_values_are_typed_like_pybind(fake_samna):
    samna = fake_samna([])
    cfg = samna.xyloImu.configuration.XyloConfiguration()
    neuron = samna.xyloImu.configuration.HiddenNeuron()
    with pytest.raises(TypeError, match="incompatible function arguments"):
        neuron.threshold = 1.5
    with pytest.raises(TypeError):
        cfg.bias_enable = 1  # an int is not a bool
    with pytest.raises(TypeError):
        cfg.debug.monitor_neuron_spike = [0, 1]  # IMU wants a NeuronRange or None
    with pytest.raises(TypeError):
        samna.xyloAudio3.configuration.XyloConfiguration().debug.monitor_neuron_spike = None  # A3 wants a list
    with pytest.raises(TypeError):
        cfg.operation_mode = 1
    cfg.input.weights = np.ones((2, 3), np.int8)  # numpy integer matrices are accepted, as in SynSense's code


def test_soft_reset_completes_later_and_loses_the_configuration(fake_samna):
    samna = fake_samna(["xylo-imu"])
    imu = samna.boards[0]
    config = spec_to_config(random_spec("xylo-imu"), samna)
    imu.reset_board_soft()
    imu.get_model().apply_configuration(config)  # sent before the reset has completed ...
    imu.touch()
    assert imu.model.config is None  # ... so it is lost


def test_a2_state_sink_is_neurons_by_time_and_needs_ram_bits(fake_samna):
    samna = fake_samna(["xylo-audio2"])
    board = SamnaBackend(samna=samna, **FAST)
    spec = random_spec("xylo-audio2", n_h=7)
    board.load(spec)
    board.run(np.ones((1, 11, spec.n_inputs), np.int64), record=True)
    sink = board.bufs.state
    assert np.asarray(sink.get_reservoir_v_mem()).shape == (7 + spec.n_outputs, 11)
    assert np.asarray(sink.get_output_spike()).shape == (spec.n_outputs, 11)
    samna.boards[0].model.regs[0x01] = 0  # RAM access off: states read as zero
    sink.reset()
    samna.boards[0].model.process_until(samna.boards[0].model.now + 3)
    assert not np.asarray(sink.get_reservoir_v_mem()).any()


def test_a3_clock_change_keeps_the_network(fake_samna):
    from xylodeploy.backends import get_backend

    samna = fake_samna(["xylo-audio3"])
    board = SamnaBackend(samna=samna, **FAST)
    spec = random_spec("xylo-audio3")
    board.load(spec)
    assert board.set_clock(25e6) == pytest.approx(25e6)
    assert samna.boards[0].clock_hz == pytest.approx(25e6)
    raster = np.random.default_rng(2).integers(0, 3, (1, 10, spec.n_inputs))
    ref = get_backend("reference")
    ref.load(spec)
    assert np.array_equal(board.run(raster).spikes_out, ref.run(raster).spikes_out)
