"""The samna driver's full path against the stand-in: equals the reference, fails cleanly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.compare import compare_devices, compare_recordings
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.backends.samna.boards import board_report
from xylodeploy.errors import ConfigError, DeviceError

CHIPS = ["xylo-audio2", "xylo-imu", "xylo-audio3"]
FAST = dict(min_timeout_s=0.3, timeout_per_neuron_step_s=0.0)


def _board(fake_samna, chip, **kw):
    samna = fake_samna([chip], **kw)
    return samna, SamnaBackend(samna=samna, **FAST)


def _raster(seed=1, b=2, t=25, n_in=4):
    return np.random.default_rng(seed).integers(0, 4, (b, t, n_in))


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("record", [True, False])
def test_run_equals_reference(fake_samna, chip, record):
    spec = random_spec(chip)
    _, board = _board(fake_samna, chip)
    agreement = compare_devices(spec, _raster(), board, get_backend("reference"), record=record)
    assert agreement.equal, agreement.first_divergence
    assert set(agreement.fractions) >= ({"spikes_out", "vmem", "isyn"} if record else {"spikes_out"})


def test_state_reset_between_clips(fake_samna):
    spec = random_spec("xylo-imu")
    _, board = _board(fake_samna, "xylo-imu")
    board.load(spec)
    clip = _raster(b=1)
    first, second = board.run(clip, record=True), board.run(clip, record=True)
    assert np.array_equal(first.vmem, second.vmem)


def test_compare_reports_first_divergence():
    from xylodeploy.backends.base import Recording

    a = Recording(spikes_out=np.zeros((2, 5, 3), np.int8), vmem=np.zeros((2, 5, 4), np.int16))
    b_vmem = a.vmem.copy()
    b_vmem[1, 2, 3] = 9
    b_vmem[1, 4, 0] = 1
    b_out = a.spikes_out.copy()
    b_out[1, 3, 0] = 1
    b = Recording(spikes_out=b_out, vmem=b_vmem)
    agreement = compare_recordings(a, b, record=True)
    d = agreement.first_divergence
    assert not agreement.equal
    assert (d.clip, d.step, d.neuron, d.quantity, d.device, d.reference) == (1, 2, 3, "vmem", 0, 9)


def test_timeout_is_a_device_error_and_does_not_hang(fake_samna):
    samna, board = _board(fake_samna, "xylo-audio3")
    board.load(random_spec("xylo-audio3"))
    samna.boards[0].faults.hang = True
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="timed out"):
        board.run(_raster(b=1))
    assert time.monotonic() - t0 < 5
    assert samna.boards[0].power.rate is None  # measurement stopped (known state)


def test_disconnect_is_a_device_error(fake_samna):
    samna, board = _board(fake_samna, "xylo-audio2")
    board.load(random_spec("xylo-audio2"))
    samna.boards[0].faults.disconnect_after_writes = 0
    with pytest.raises(DeviceError, match="disconnected"):
        board.run(_raster(b=1))


@pytest.mark.parametrize("chip", ["xylo-imu", "xylo-audio3"])
def test_dropped_readouts_are_fatal_when_strict(fake_samna, chip):
    samna = fake_samna([chip])
    board = SamnaBackend(samna=samna, strict_readouts=True, **FAST)
    board.load(random_spec(chip))
    samna.boards[0].faults.drop_every = 7
    with pytest.raises(DeviceError, match="skipped"):
        board.run(_raster(b=1))


def test_invalid_config_refused_with_samnas_message(fake_samna):
    samna, board = _board(fake_samna, "xylo-imu")
    bad = random_spec("xylo-imu")
    bad = bad.replace(dash_mem=np.where(np.arange(bad.n_hidden) == 4, 16, bad.dash_mem))
    with pytest.raises(DeviceError, match="samna rejected .*hidden neuron 4: v_mem_decay 16 out of range"):
        board.load(bad)
    samna.reject("xyloImu", "Fan-out RAM overflow")
    with pytest.raises(DeviceError, match="Fan-out RAM overflow"):
        board.load(random_spec("xylo-imu"))


def test_board_discovery_errors(fake_samna):
    with pytest.raises(DeviceError, match="no Xylo Audio 3 board found.*udev"):
        SamnaBackend(samna=fake_samna(["xylo-imu"]), chip="xylo-audio3")
    with pytest.raises(DeviceError, match="firmware too old.*unifirm 1.0.0 < required 1.1.3"):
        SamnaBackend(samna=fake_samna(["xylo-audio2"], firmware={"fxtree": "0.11.5", "unifirm": "1.0.0"}))
    _, board = _board(fake_samna, "xylo-audio2")
    with pytest.raises(ConfigError, match="spec targets xylo-imu"):
        board.load(random_spec("xylo-imu"))
    with pytest.raises(ConfigError, match="before load"):
        board.run(_raster(b=1))


@pytest.mark.parametrize("chip", ["xylo-imu"])
def test_realtime_stream_equals_reference(fake_samna, chip):
    spec = random_spec(chip).replace(dt=0.03)
    spec = spec.replace(bias=np.zeros(spec.n_hidden, np.int64), bias_out=np.zeros(spec.n_outputs, np.int64))
    _, board = _board(fake_samna, chip)
    board.load(spec)
    clip = _raster(b=1, t=12)[0]
    board.run(clip[None])  # warm-up (simulator JIT) outside the real-time loop
    outs = np.array(list(board.stream(list(clip), lead_steps=8)))
    ref = get_backend("reference")
    ref.load(spec)
    assert np.array_equal(outs, ref.run(clip).spikes_out[0])
    assert np.array_equal(board.run(clip[None]).spikes_out, ref.run(clip[None]).spikes_out)  # back to accelerated


def test_set_clock_divider(fake_samna):
    samna, board = _board(fake_samna, "xylo-imu")
    assert board.set_clock(12e6) == pytest.approx(12.5e6)
    assert samna.boards[0].clock_hz == pytest.approx(12.5e6)
    samna, board = _board(fake_samna, "xylo-audio2")
    assert board.set_clock(25e6) == pytest.approx(25e6)
    assert samna.boards[0].clock_hz == pytest.approx(25e6)


def test_board_report(fake_samna):
    rep = board_report(fake_samna(["xylo-audio2", "xylo-imu"], firmware={"fxtree": "0.12.0", "unifirm": "1.2.0"}))
    assert [r["chip"] for r in rep.rows] == ["xylo-audio2", "xylo-imu"]
    assert "firmware ok" in rep.rows[0]["detail"]
    assert "no Xylo board seen" in board_report(fake_samna([])).note
    old = board_report(fake_samna(["xylo-audio3"], firmware={"fxtree": "0.11.5", "unifirm": "1.6.0"}))
    assert "FIRMWARE TOO OLD: fxtree 0.11.5 < required 0.12.2" in old.rows[0]["detail"]


def test_clock_dividers_follow_each_chips_rounding(fake_samna):
    from xylodeploy.backends.samna.chip import clock_for

    # 30 MHz: round(100/30) / 2 - 1 = 0.5 -> A2 truncates (wait 0, 50 MHz), IMU rounds up (wait 1, 25 MHz)
    assert clock_for("io_config", 30e6) == (0, 50e6)
    assert clock_for("io_rate", 30e6) == (1, 25e6)
    samna, board = _board(fake_samna, "xylo-audio2")
    assert board.set_clock(1e6) == pytest.approx(1e6)
    io_module = samna.boards[0].io
    assert io_module.config_words == {0x20: 0, 0x21: 49}  # wait period 49, high and low words
    assert (io_module.saer_hz, io_module.spi_hz) == (250_000, 125_000)  # clock / 4 and / 8
