"""Real-time mode of the samna driver, one start-up sequence per chip (sources: docs/samna-driver.md).

Sensor input (``frames=None``) follows SynSense's monitors:
    A2:  Manual mode + clear state applied, FPGA handler clock, TR_WRAP/HM_TR_WRAP = clock x dt, input
         registers cleared, CTRL1.MAN cleared, WO = 0x10, then the FPGA handler switched to RealTime; the
         AFE (microphone) feeds the core and outputs arrive in the NeuronStateSinkNode.
    IMU: RealTime with the IMU input interface enabled (its clock on, divider clock/50 kHz - 1, interface
         timeout 20000), RAM access closed; processing runs to the target of each TriggerProcessing.
    A3:  RealTime with the digital microphone as input (SDM clock ratio from the 1.56 MHz PDM clock),
         applied with a register-read sync, started by one TriggerProcessing.
Host frames are accepted on the IMU only (spike input with the interface off and manual input
acceleration on; not in SynSense's code, so the first-contact checklist checks it). A2 real time takes
only its AFE's input; samna's A3 real-time page says the chip must take a microphone's input, that it
cannot be talked to while it runs, and that a TriggerProcessing stops it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from xylodeploy.backends.base import as_batch
from xylodeploy.backends.samna import board_io as io
from xylodeploy.backends.samna import chip as chip_ops
from xylodeploy.errors import ConfigError, DeviceError

IMU_IF_CLOCK_HZ = 50_000  # the IMU input interface runs at 50 kHz
IMU_IF_TIMEOUT = 20_000  # input_interface.configuration_timeout SynSense writes
A3_PDM_CLOCK_MHZ = 1.56  # A3 PDM microphone clock
REALTIME_READ_FACTOR = 3.0  # SynSense's IMU monitor waits 3 x the real-time duration


def start(be: Any, host_input: bool) -> None:
    """Put the loaded network into real-time mode (state cleared); see the module docstring."""
    ns, cfg, clk, dt = be.chip.samna_namespace, be._config, be.clock_hz, be.spec.dt
    if ns != "xyloImu" and host_input:
        source = "audio front end" if ns == "xyloCore2" else "microphone"
        raise ConfigError(
            f"{be.chip.title} real-time mode takes its input from the on-chip {source} only; "
            "run host spike input in accelerated time (run()) or stream without frames"
        )
    io.monitor_settings(cfg, be.ns.configuration, be.dialect, be.spec.n_hidden, be.spec.n_outputs, False, False)
    if ns == "xyloCore2":
        _start_a2(be, cfg, clk, dt)
        return
    chip_ops.reset_state(be)
    cfg.operation_mode = be.ns.OperationMode.RealTime
    cfg.time_resolution_wrap = int(dt * clk)
    cfg.debug.always_update_omp_stat = True
    if ns == "xyloImu":
        cfg.imu_if_input_enable = not host_input
        if not host_input:
            cfg.debug.imu_if_clk_enable = True
            cfg.debug.imu_if_clock_freq_div = int(clk / IMU_IF_CLOCK_HZ - 1)
            cfg.input_interface.configuration_timeout = IMU_IF_TIMEOUT
            for name, value in (be.imu_interface or {}).items():  # the registers the network was trained with
                setattr(cfg.input_interface, name, value)
        be.hdk.enable_manual_input_acceleration(host_input)
        chip_ops.apply(be, cfg, blocking=True)
        chip_ops.set_ram_access(be, False)
    else:
        cfg.input_source = be.ns.InputSource.DigitalMicrophone
        cfg.debug.sdm_clock_ratio = int(clk / 1e6 / A3_PDM_CLOCK_MHZ / 2 - 1)
        pdm = cfg.digital_frontend.pdm_preprocessing
        pdm.clock_direction, pdm.clock_edge = 1, 0
        chip_ops.apply(be, cfg, blocking=True)
        be.bufs.write.write([be.ns.event.TriggerProcessing()])  # starts it; no TriggerReadout while it runs


def _start_a2(be: Any, cfg: Any, clk: float, dt: float) -> None:
    cfg.operation_mode = be.ns.OperationMode.Manual
    cfg.debug.always_update_omp_stat = True
    cfg.clear_network_state = True
    chip_ops.model(be).apply_configuration(cfg)  # the AFE's SAER input stays on: it is the input
    cfg.clear_network_state = False
    handler = be.hdk.get_io_module().get_xylo_handler()
    handler.set_main_clk_rate(int(clk))
    be.bufs.state.set_configuration(cfg)
    for reg in (chip_ops.A2_TR_WRAP, chip_ops.A2_HM_TR_WRAP):
        io.write_register(be.ns, be.bufs, reg, int(clk * dt))
    for reg in be.dialect.input_registers:
        io.write_register(be.ns, be.bufs, reg, 0)
    ctrl1 = io.read_register(be.ns, be.bufs, chip_ops.A2_CTRL1, be.dialect.readout_wait_s, be.poll_s)
    io.write_register(be.ns, be.bufs, chip_ops.A2_CTRL1, ctrl1 & ~chip_ops.A2_CTRL1_MAN)
    io.write_register(be.ns, be.bufs, chip_ops.A2_WO, chip_ops.A2_WO_REALTIME)
    time.sleep(0.1)
    handler.set_operation_mode(be.ns.OperationMode.RealTime)
    be.bufs.state.reset()


def stop(be: Any) -> None:
    """Leave real-time mode: back to accelerated time with the configuration re-applied and state cleared."""
    if be.chip.samna_namespace == "xyloCore2":
        be.hdk.get_io_module().get_xylo_handler().set_operation_mode(be.ns.OperationMode.AcceleratedTime)
    if be.chip.samna_namespace == "xyloAudio3":
        be.bufs.write.write([be.ns.event.TriggerProcessing()])  # stops real-time processing
    be._config.operation_mode = be.ns.OperationMode.AcceleratedTime
    if be.chip.samna_namespace == "xyloImu":
        be._config.imu_if_input_enable = False
    if be.chip.samna_namespace == "xyloAudio3":
        be._config.input_source = be.ns.InputSource.SpikeEvents
    be._record = None
    be._configure(record=False)
    chip_ops.reset_state(be)


def step_timeout(be: Any, n_steps: int) -> float:
    """Seconds to wait for ``n_steps`` real-time steps: 3 x their duration, at least the TriggerReadout wait."""
    return max(REALTIME_READ_FACTOR * n_steps * be.spec.dt, be.dialect.readout_wait_s)


def a2_outputs(be: Any) -> Iterator[np.ndarray]:
    """A2: every new column of the state sink's output spikes (neurons x steps), one (Nout,) per step."""
    n_out, timeout = be.spec.n_outputs, step_timeout(be, 1)
    deadline = time.monotonic() + timeout
    while True:
        cols = np.asarray(be.bufs.state.get_output_spike(), np.int64).reshape(n_out, -1)
        if cols.shape[1]:
            be.bufs.state.reset()
            deadline = time.monotonic() + timeout
            yield from (cols[:, k].copy() for k in range(cols.shape[1]))
        elif time.monotonic() > deadline:
            raise DeviceError(f"real-time mode: no output from the core for {timeout:.1f} s")
        time.sleep(be.poll_s)


def _first_step(be: Any, stash: dict[int, Any]) -> int:
    """The time step of the first Readout that arrives (A3 cannot be asked while it runs)."""
    timeout = step_timeout(be, 1)
    deadline = time.monotonic() + timeout
    while not io.drain(be.bufs.read, be.dialect, stash):
        if time.monotonic() > deadline:
            raise DeviceError(f"real-time mode: no Readout within {timeout:.1f} s of the start")
        time.sleep(be.poll_s)
    return min(stash)


def readout_outputs(be: Any, frames: Iterable[np.ndarray] | None, lead: int) -> Iterator[np.ndarray]:
    """IMU / A3: per-step ``Readout`` outputs; host frames are scheduled ``lead`` steps ahead of the chip."""
    d, ns, n_out = be.dialect, be.ns, be.spec.n_outputs
    stash: dict[int, Any] = {}
    if be.chip.samna_namespace == "xyloAudio3":  # already running: the first Readout is the first step
        begin = _first_step(be, stash)
    else:
        begin = io.current_step(ns, be.bufs, d, be.poll_s, "real-time start") + (lead if frames is not None else 0)
    source = iter(frames) if frames is not None else None
    sent, t, exhausted = 0, 0, source is None
    while True:
        while not exhausted and sent < t + lead:
            frame = next(source, None)
            if frame is None:
                exhausted = True
                break
            clip, _ = as_batch(np.asarray(frame).reshape(1, -1), be.spec.n_inputs, "real-time frame")
            io.drain(be.bufs.read, d, stash)
            if any(s >= begin + sent for s in stash):
                raise DeviceError(f"real-time stream fell behind the chip at step {sent} (dt too short?)")
            be.bufs.write.write(io.input_events(ns, d, clip[0], begin + sent, be.chip.max_input_events))
            sent += 1
        if source is not None and exhausted and t >= sent:
            return
        if be.chip.samna_namespace == "xyloImu" and (t % lead == 0):
            trigger = ns.event.TriggerProcessing()
            trigger.target_timestep = begin + t + 2 * lead
            be.bufs.write.write([trigger])
        got, _ = io.wait_readouts(be.bufs.read, d, begin + t, begin + t, step_timeout(be, lead), be.poll_s,
                                  f"real-time step {t}", stash)  # fmt: skip
        ev = got.get(begin + t)
        yield np.zeros(n_out, np.int64) if ev is None else np.asarray(list(ev.output_spikes)[:n_out], np.int64)
        t += 1
