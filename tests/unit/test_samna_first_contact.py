"""The nine first-contact defects of the samna driver (issue 15), each against the strict stand-in.

Every test here failed on the driver before the fix (checked with the old driver files restored);
the facts they enforce and their sources in SynSense's device code are in docs/samna-driver.md.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.compare import compare_devices
from xylodeploy.backends.samna import board_io as io
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.backends.samna.config import dialect
from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError, DeviceError

FAST = dict(min_timeout_s=0.3, timeout_per_neuron_step_s=0.0)
RAM_ACTIVE, MEM_CLK_ON = 1 << 17, 1 << 16  # Xylo Audio 2 CTRL1 bits (SynSense's register map)


def _open(fake_samna, chip, **kw):
    samna = fake_samna([chip], **{k: v for k, v in kw.items() if k == "a3_synapse2"})
    return samna, SamnaBackend(samna=samna, **{**FAST, **{k: v for k, v in kw.items() if k != "a3_synapse2"}})


def _reference(spec, raster, record=False):
    ref = get_backend("reference")
    ref.load(spec)
    return ref.run(raster, record=record)


# 1 -------------------------------------------------------------------------------------------
def test_a2_core_is_reached_through_get_xylo_model_only(fake_samna):
    samna, board = _open(fake_samna, "xylo-audio2")
    assert not hasattr(samna.boards[0], "get_model")  # real A2 HDKs have get_xylo_model
    spec = random_spec("xylo-audio2")
    board.load(spec)
    raster = np.random.default_rng(3).integers(0, 3, (1, 15, spec.n_inputs))
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)


# 2 -------------------------------------------------------------------------------------------
def test_a2_states_come_neurons_by_time_and_need_ram_access(fake_samna):
    samna, board = _open(fake_samna, "xylo-audio2")
    spec = random_spec("xylo-audio2", n_h=9)  # T != Nh + Nout, so a missing transpose cannot pass
    raster = np.random.default_rng(4).integers(0, 4, (2, 23, spec.n_inputs))
    agreement = compare_devices(spec, raster, board, get_backend("reference"), record=True)
    assert agreement.equal, agreement.first_divergence
    assert samna.boards[0].model.regs[0x01] & (RAM_ACTIVE | MEM_CLK_ON) == RAM_ACTIVE | MEM_CLK_ON


# 3 -------------------------------------------------------------------------------------------
def test_a3_synapse2_attributes_only_where_samna_has_them(fake_samna):
    samna, board = _open(fake_samna, "xylo-audio3", a3_synapse2=False)
    one = random_spec("xylo-audio3")
    one = one.replace(weights_in=one.weights_in[..., :1], weights_rec=one.weights_rec[..., :1])
    assert not one.uses_synapse2
    board.load(one)
    raster = np.random.default_rng(5).integers(0, 3, (1, 12, one.n_inputs))
    rec = board.run(raster, record=True)
    ref = _reference(one, raster, record=True)
    assert np.array_equal(rec.vmem, ref.vmem) and np.array_equal(rec.spikes_out, ref.spikes_out)
    with pytest.raises(ConfigError, match="no 'synapse2_enable'.*second synapse"):
        board.load(random_spec("xylo-audio3"))


# 4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chip", ["xylo-imu", "xylo-audio3"])
def test_state_reset_between_clips_is_synchronised(fake_samna, chip):
    samna, board = _open(fake_samna, chip)
    spec = random_spec(chip)
    board.load(spec)
    raster = np.random.default_rng(6).integers(0, 4, (3, 14, spec.n_inputs))
    rec = board.run(raster, record=True)
    ref = _reference(spec, raster, record=True)
    assert np.array_equal(rec.vmem, ref.vmem) and np.array_equal(rec.spikes_out, ref.spikes_out)
    modes = [m.name for (what, m) in samna.boards[0].log if what == "apply"]
    if chip == "xylo-audio3":  # SynSense's A3 reset: a Recording-mode configuration, never a board reset
        assert "Recording" in modes and not any(w.startswith("reset_board_soft") for w, _ in samna.boards[0].log)


# 5 -------------------------------------------------------------------------------------------
def test_imu_debug_clocks_and_ram_power_are_enabled(fake_samna):
    samna, board = _open(fake_samna, "xylo-imu")
    spec = random_spec("xylo-imu")
    board.load(spec)
    dbg = samna.boards[0].model.config.debug
    for name in ("isyn_clock_enable", "ra_clock_enable", "bias_clock_enable", "hm_clock_enable", "ram_power_enable"):
        assert getattr(dbg, name) is True, name
    raster = np.random.default_rng(7).integers(0, 4, (1, 16, spec.n_inputs))
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)


# 6 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-imu", "xylo-audio3"])
def test_realtime_runs_on_the_chips_own_sensor_input(fake_samna, chip):
    samna, board = _open(fake_samna, chip)
    spec = random_spec(chip).replace(dt=0.03)
    board.load(spec)
    board.run(np.zeros((1, 3, spec.n_inputs), np.int64))  # warm-up (simulator JIT) outside real time
    sensor = np.random.default_rng(8).integers(0, 4, (10, spec.n_inputs))
    samna.boards[0].sensor_input = sensor
    outs = np.array(list(itertools.islice(board.stream(), len(sensor))))
    assert np.array_equal(outs, _reference(spec, sensor[None]).spikes_out[0])
    raster = np.random.default_rng(9).integers(0, 3, (1, 12, spec.n_inputs))
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)  # accelerated again


@pytest.mark.parametrize(("chip", "source"), [("xylo-audio2", "audio front end"), ("xylo-audio3", "microphone")])
def test_audio_realtime_refuses_host_frames(fake_samna, chip, source):
    _, board = _open(fake_samna, chip)
    board.load(random_spec(chip))
    assert not board.realtime_host_input
    with pytest.raises(ConfigError, match=f"on-chip {source} only"):
        board.stream([np.zeros(4, np.int64)])


# 7 -------------------------------------------------------------------------------------------
def test_a2_start_up_version_and_saer_and_no_monitoring_as_none(fake_samna):
    samna, board = _open(fake_samna, "xylo-audio2")
    spec = random_spec("xylo-audio2")
    board.load(spec)
    model = samna.boards[0].model
    assert model.started and not samna.boards[0].afe.saer
    dbg = model.config.debug
    assert all(getattr(dbg, f"monitor_neuron_{k}") is None for k in ("spike", "v_mem", "i_syn", "i_syn2"))
    raster = np.random.default_rng(10).integers(0, 3, (1, 10, spec.n_inputs))
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)
    other = fake_samna(["xylo-audio2"])
    other.boards[0].faults.version = (2, 0)
    with pytest.raises(DeviceError, match="Xylo Audio 2 board FAKE0000: starting up.*core version 2.0"):
        SamnaBackend(samna=other, **FAST)


# 8 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exc", [TypeError("incompatible function arguments"), ValueError("bad value"),
                                 AttributeError("no attribute 'x'"), RuntimeError("USB stall")])  # fmt: skip
@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-imu", "xylo-audio3"])
def test_every_samna_exception_becomes_a_device_error(fake_samna, chip, exc):
    samna, board = _open(fake_samna, chip)
    spec = random_spec(chip)
    samna.boards[0].faults.raise_in["apply_configuration"] = exc
    title = get_chip(chip).title
    with pytest.raises(DeviceError, match=f"{title} board FAKE0000: applying the configuration failed: "
                       f"samna raised {type(exc).__name__}: {exc}"):  # fmt: skip
        board.load(spec)
    del samna.boards[0].faults.raise_in["apply_configuration"]
    board.load(spec)
    board.power_start(20.0)
    samna.boards[0].faults.raise_in["write"] = exc
    with pytest.raises(DeviceError, match=f"running clip 0.*{type(exc).__name__}"):
        board.run(np.ones((1, 5, spec.n_inputs), np.int64))
    del samna.boards[0].faults.raise_in["write"]
    assert not samna.boards[0].power.is_auto_power_measurement_active()  # known state: measurement stopped
    raster = np.random.default_rng(11).integers(0, 3, (1, 9, spec.n_inputs))
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)


def test_conversion_errors_are_device_errors(fake_samna, monkeypatch):
    samna, board = _open(fake_samna, "xylo-imu")

    def broken(*_a, **_k):
        raise TypeError("HiddenNeuron(): incompatible constructor arguments")

    monkeypatch.setattr(samna.xyloImu.configuration, "HiddenNeuron", broken)
    with pytest.raises(DeviceError, match="converting the spec.*TypeError: HiddenNeuron"):
        board.load(random_spec("xylo-imu"))


# 9 -------------------------------------------------------------------------------------------
def test_clip_timeouts_follow_synsenses_factors():
    a2, imu, a3 = (dialect(get_chip(c)) for c in ("xylo-audio2", "xylo-imu", "xylo-audio3"))
    # A2: T * dt * Nh / 100, x100 when recording; IMU/A3: T * Nh / 100 (x100); never below 1 s
    assert io.clip_timeout(a2, 1000, 100, 1e-3, False, None) == pytest.approx(1.0)
    assert io.clip_timeout(a2, 1000, 100, 1e-3, True, None) == pytest.approx(100.0)
    assert io.clip_timeout(imu, 200, 50, 1e-3, False, None) == pytest.approx(100.0)
    assert io.clip_timeout(a3, 200, 50, 1e-3, True, None) == pytest.approx(10_000.0)
    assert io.clip_timeout(a2, 10, 10, 1e-3, True, None) == pytest.approx(1.0)
    assert (a2.readout_wait_s, imu.readout_wait_s, a3.readout_wait_s) == (3.0, 3.0, 5.0)


def test_slow_trigger_readout_and_slow_processing_are_waited_for(fake_samna):
    samna, board = _open(fake_samna, "xylo-imu", min_timeout_s=1.0)
    spec = random_spec("xylo-imu")
    board.load(spec)
    raster = np.random.default_rng(12).integers(0, 3, (1, 150, spec.n_inputs))
    board.run(raster[:, :5])  # warm-up
    samna.boards[0].faults.readout_delay_s = 2.2  # SynSense waits 3 s for this answer (we waited 2 s)
    samna.boards[0].faults.step_delay_s = 0.005  # 0.75 s of readouts, never 1 s without one
    t0 = time.monotonic()
    assert np.array_equal(board.run(raster).spikes_out, _reference(spec, raster).spikes_out)
    assert time.monotonic() - t0 >= 2.2


def test_gaps_in_readouts_are_tolerated_and_reported(fake_samna):
    samna, board = _open(fake_samna, "xylo-imu")
    spec = random_spec("xylo-imu")
    board.load(spec)
    raster = np.random.default_rng(13).integers(0, 4, (1, 20, spec.n_inputs))
    samna.boards[0].faults.drop_every = 6
    with pytest.warns(UserWarning, match="skipped 3 of 20 readouts"):
        rec = board.run(raster, record=True)
    ref = _reference(spec, raster, record=True)
    gaps = [s for (_, s) in board.missing_steps]
    assert len(gaps) == 3
    assert not rec.vmem[0, gaps].any()
    keep = [s for s in range(20) if s not in gaps]
    assert np.array_equal(rec.vmem[0, keep], ref.vmem[0, keep])


def test_power_measurement_already_running_is_restarted(fake_samna):
    samna, board = _open(fake_samna, "xylo-audio3")
    board.load(random_spec("xylo-audio3"))
    samna.boards[0].power.start_auto_power_measurement(5.0)  # left running by another program
    board.power_start(50.0)
    assert samna.boards[0].power.rate == 50.0
    board.power_stop()
    assert not samna.boards[0].power.is_auto_power_measurement_active()


def test_imu_realtime_writes_the_trained_input_interface_registers(fake_samna):
    """The IMU interface the network was trained with (pipeline's imu_interface.json) reaches the board."""
    from xylodeploy.frontends.imu_config import ImuInterfaceConfig

    regs = ImuInterfaceConfig(encoder="iaf", iaf_threshold=12345).to_samna()
    samna, board = _open(fake_samna, "xylo-imu", imu_interface=regs)
    spec = random_spec("xylo-imu").replace(dt=0.03)
    board.load(spec)
    samna.boards[0].sensor_input = np.zeros((2, spec.n_inputs), np.int64)
    list(itertools.islice(board.stream(), 2))
    applied = samna.boards[0].model.config.input_interface
    assert applied.enable is True and applied.select_iaf_output is True
    assert applied.iaf_threshold_values == regs["iaf_threshold_values"] and 12345 in applied.iaf_threshold_values
    assert applied.bpf_a1_values == regs["bpf_a1_values"] and applied.configuration_timeout > 0
