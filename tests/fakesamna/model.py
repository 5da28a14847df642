"""The stand-in's SNN core: applies configurations and processes time steps per chip, strictly.

Executes on xylodeploy's reference simulator: the model keeps the input history since the last
state reset and re-simulates it, so every emitted step equals the reference exactly. What the
real chips need before they give data back is enforced (docs/samna-driver.md):
  A2:  the first TriggerProcessing (start-up) before anything is processed or answered; states only
       with CTRL1.RAM_ACTIVE and MEM_CLK_ON set (an apply clears them); while the AFE's SAER interface
       is on (every apply switches it on) the AFE adds an input event on channel 0 each step.
  IMU: nothing computed unless the isyn/ra/bias/hm clocks and RAM power are enabled; states only
       with open_ram_access; host spikes only with manual input acceleration.
  A3:  states only with debug.ram_access_enable; a re-apply keeps the state unless the operation
       mode changes (SynSense's reset applies a Recording-mode configuration).
Real time: A2 runs when the FPGA handler is in RealTime with CTRL1.MAN clear and TR_WRAP set; IMU
processes up to each TriggerProcessing target at the wall-clock pace; A3 starts on TriggerProcessing.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from xylodeploy.backends import get_backend

from .config import NeuronRange, OperationMode
from .events import StateFrame

CTRL1, TR_WRAP, RAM_BITS, MAN_BIT = 0x01, 0x03, (1 << 16) | (1 << 17), 1
IMU_CLOCKS = ("isyn_clock_enable", "ra_clock_enable", "bias_clock_enable", "hm_clock_enable", "ram_power_enable")


def _ids(monitor: Any) -> list[int]:
    if monitor is None:
        return []
    return monitor.ids() if isinstance(monitor, NeuronRange) else [int(i) for i in monitor]


class Model:
    """The SNN core (what ``get_model`` / ``get_xylo_model`` return)."""

    def __init__(self, board: Any) -> None:
        self.board, self.chip, self.ns_name = board, board.chip, board.chip.samna_namespace
        self.t = "timestamp" if self.ns_name == "xyloCore2" else "timestep"
        from .board import ModelSink, SourceNode

        self.source, self.sink = SourceNode(board), ModelSink(self)
        self.config: Any = None
        self.spec: Any = None
        self.ram_open, self.started = False, self.ns_name != "xyloCore2"
        self.regs: dict[int, int] = {0: 0x0101}
        self.now, self.rt_target, self.rt_running = 0, 0, False
        self.reset_state()

    # samna API ---------------------------------------------------------------------------
    def get_source_node(self) -> Any:
        return self.source

    def get_sink_node(self) -> Any:
        return self.sink

    def get_configuration(self) -> Any:
        return copy.deepcopy(self.config)

    def apply_configuration(self, config: Any) -> None:
        from .board import spec_from_config

        self.board.check("apply_configuration")
        if self._a3_running():
            self.board.log.append(("apply ignored: real time running", config.operation_mode))
            return
        if type(config).__name__ != "XyloConfiguration" or not hasattr(config, "readout"):
            raise TypeError("apply_configuration(): incompatible function arguments")
        old_mode = None if self.config is None else self.config.operation_mode
        self.config = copy.deepcopy(config)
        if config.readout.neurons:
            self.spec = spec_from_config(config, self.chip)
            self.sim = get_backend("reference")
            self.sim.load(self.spec)
        else:
            self.spec = None
        if self.ns_name == "xyloCore2":
            self.regs[CTRL1] = MAN_BIT if config.operation_mode == OperationMode.Manual else 0
            self.board.afe.saer = True
            if config.clear_network_state:
                self.reset_state()
        if self.ns_name == "xyloAudio3" and old_mode is not None and old_mode != config.operation_mode:
            self.reset_state()
        self.rt_running = False
        self.board.log.append(("apply", config.operation_mode))

    def open_ram_access(self) -> None:
        self.board.check("open_ram_access")
        self.ram_open = True

    def close_ram_access(self) -> None:
        self.board.check("close_ram_access")
        self.ram_open = False

    # execution ---------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.history: list[np.ndarray] = []
        self.pending: dict[int, np.ndarray] = {}

    def soft_reset(self) -> None:
        """What a completed board soft reset leaves: no configuration, no RAM access, time 0."""
        self.config, self.spec, self.ram_open, self.now = None, None, False, 0
        self.rt_running = False
        self.reset_state()

    def mode(self) -> Any:
        return None if self.config is None else self.config.operation_mode

    def handle(self, events: list) -> None:
        self.board.check("write", write=True)
        self.board.finish_reset()
        self.touch()
        for ev in events:
            self._handle_one(ev, type(ev).__name__)

    def _handle_one(self, ev: Any, kind: str) -> None:  # noqa: C901 - one branch per event type
        ns, b = self.board.ns, self.board
        if self._a3_running() and kind != "TriggerProcessing":
            return  # an A3 in real time cannot be talked to until a TriggerProcessing stops it
        if kind == "ReadRegisterValue":
            b.emit(self.source, [ns.event.RegisterValue(address=ev.address, data=self.regs.get(int(ev.address), 0))])
        elif kind == "WriteRegisterValue":
            self.regs[int(ev.address)] = int(ev.data)
            if int(ev.address) in (0x11, 0x12, 0x13, 0x14) and ev.data == 0:
                self.pending.pop(self.now, None)  # clearing the A2 input registers
        elif kind == "ReadVersion":
            b.emit(self.source, [ns.event.Version(major=b.faults.version[0], minor=b.faults.version[1])])
        elif kind == "TriggerProcessing":
            self._trigger(ev)
        elif not self.started:
            return  # A2 before start-up: the core answers nothing
        elif kind == "Spike":
            self._spike(ev)
        elif kind == "TriggerReadout":
            last = self.now - 1 if self.ns_name == "xyloImu" else self.now
            b.emit(self.source, [ns.event.Readout(**{self.t: last})], delay=b.faults.readout_delay_s)

    def _a3_running(self) -> bool:
        return self.ns_name == "xyloAudio3" and self.rt_running and self.mode() == OperationMode.RealTime

    def _trigger(self, ev: Any) -> None:
        if not self.started:
            self.started = True
            return
        if self._a3_running():  # a TriggerProcessing stops A3 real-time processing
            self.touch()
            self.rt_running = False
            return
        target = getattr(ev, "target_timestep", None)
        if self.mode() == OperationMode.RealTime:
            if not self.rt_running:  # the first trigger after a RealTime apply starts the clock
                self.rt_start, self.rt_base = time.monotonic(), self.now
            self.rt_running = True
            self.rt_target = None if target is None else int(target)
            return
        self.process_until(self.now + 1 if target is None else int(target))

    def _spike(self, ev: Any) -> None:
        if self.ns_name == "xyloImu" and not self.board.accel_inputs:
            return  # host input needs manual input acceleration on the IMU board
        step = max(int(getattr(ev, self.t)), self.now)
        if self.mode() != OperationMode.RealTime:
            self.process_until(step)  # accelerated: a later spike triggers the earlier steps
        self.frame(step)[int(ev.neuron_id)] += 1

    def frame(self, step: int) -> np.ndarray:
        n_in = self.spec.n_inputs if self.spec is not None else self.chip.max_inputs
        return self.pending.setdefault(step, np.zeros(n_in, np.int64))

    def touch(self) -> None:
        """Real-time mode: process the steps the wall clock says are due."""
        if self.config is None or self.board.faults.hang or not self._rt_active():
            return
        due = self.rt_base + int((time.monotonic() - self.rt_start) / self._rt_dt())
        self.process_until(due if self.rt_target is None else min(due, self.rt_target))

    def _rt_active(self) -> bool:
        if self.ns_name == "xyloCore2":
            h = self.board.io.handler
            return (
                h.mode == OperationMode.RealTime
                and not self.regs.get(CTRL1, 1) & MAN_BIT
                and self.regs.get(TR_WRAP, 0) > 0
            )
        return self.mode() == OperationMode.RealTime and self.rt_running

    def _rt_dt(self) -> float:
        ticks = self.regs[TR_WRAP] if self.ns_name == "xyloCore2" else self.config.time_resolution_wrap
        return max(ticks, 1) / self.board.clock_hz

    def start_a2_realtime(self) -> None:
        self.rt_start, self.rt_base, self.rt_target = time.monotonic(), self.now, None

    def _inputs(self, step: int) -> np.ndarray:
        frame = self.pending.pop(step, np.zeros(self.spec.n_inputs, np.int64))
        b, cfg = self.board, self.config
        if self._rt_active() and self._sensor_input():
            k = step - self.rt_base
            sensor = b.sensor_input
            frame = sensor[k].astype(np.int64).copy() if sensor is not None and k < len(sensor) else frame * 0
        if self.ns_name == "xyloCore2" and b.afe.saer and cfg.operation_mode != OperationMode.RealTime:
            frame = frame.copy()
            frame[0] += 1  # the AFE's SAER interface feeds its own events into input channel 0
        return frame

    def _sensor_input(self) -> bool:
        cfg = self.config
        if self.ns_name == "xyloImu":
            return bool(cfg.imu_if_input_enable and cfg.debug.imu_if_clk_enable)
        if self.ns_name == "xyloAudio3":
            return cfg.input_source.name == "DigitalMicrophone"
        return True  # A2: its AFE

    def process_until(self, target: int) -> None:
        if self.spec is None or self.board.faults.hang or target <= self.now:
            return
        steps = list(range(self.now, target))
        self.history += [self._inputs(s) for s in steps]
        self.now = target
        rec = self.sim.run(np.asarray(self.history, np.int64)[None], record=True)
        self.board.activity.append((time.monotonic(), len(steps)))
        base = len(self.history) - len(steps)
        f = self.board.faults
        for i, s in enumerate(steps):
            f.emitted += 1
            if f.drop_every and f.emitted % f.drop_every == 0:
                continue
            self.board.emit(self.source, self.readout(rec, base + i, s), delay=f.step_delay_s * (i + 1))

    def readout(self, rec: Any, i: int, step: int) -> list:
        """One step's events: A2 a bare Readout plus the state frame; IMU/A3 a full Readout."""
        dbg, n_h = self.config.debug, self.spec.n_hidden
        runs = self.ns_name != "xyloImu" or all(getattr(dbg, c) for c in IMU_CLOCKS)
        if self.ns_name == "xyloCore2":
            ram = self.regs.get(CTRL1, 0) & RAM_BITS == RAM_BITS
        elif self.ns_name == "xyloImu":
            ram = self.ram_open
        else:
            ram = dbg.ram_access_enable

        def pick(monitor: Any, hid: np.ndarray | None, out: np.ndarray | None) -> list[int]:
            vals = [int(hid[j]) if j < n_h else int(out[j - n_h]) for j in _ids(monitor)]
            return vals if ram and runs else [0] * len(vals)

        isyn2 = rec.isyn2[0, i] if rec.isyn2 is not None else None
        values = {
            "output_spikes": [int(v) if runs else 0 for v in rec.spikes_out[0, i]],
            "output_v_mems": [int(v) if runs else 0 for v in rec.vmem_out[0, i]],
            "hidden_spikes": pick(dbg.monitor_neuron_spike, rec.spikes[0, i], None),
            "neuron_v_mems": pick(dbg.monitor_neuron_v_mem, rec.vmem[0, i], rec.vmem_out[0, i]),
            "neuron_i_syns": pick(dbg.monitor_neuron_i_syn, rec.isyn[0, i], rec.isyn_out[0, i]),
        }
        if hasattr(dbg, "monitor_neuron_i_syn2"):
            values["neuron_i_syn2s"] = pick(dbg.monitor_neuron_i_syn2, isyn2, None) if isyn2 is not None else []
        Readout = self.board.ns.event.Readout
        if self.ns_name == "xyloCore2":
            return [Readout(**{self.t: step}), StateFrame(**values)]
        return [Readout(**{self.t: step}, **{k: v for k, v in values.items() if k in Readout._fields})]
