"""A stand-in Xylo HDK: model, event nodes and power monitor, executing on the reference simulator.

State persists between event batches like on the chip: the model keeps the input history since
the last state reset and re-simulates it (the reference backend always starts from reset), so
every emitted step equals the reference exactly. Faults (`Faults`) make it hang, disconnect,
drop readouts or reject configurations.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from xylodeploy.backends import get_backend
from xylodeploy.chips import ChipSpec
from xylodeploy.ir.xylospec import XyloSpec

from .config import NeuronRange, OperationMode


@dataclass
class Faults:
    """Fault injection switches (all off by default)."""

    hang: bool = False  # never process anything: reads time out
    disconnect_after_writes: int | None = None  # after N event writes every call raises RuntimeError
    drop_every: int = 0  # drop every n-th per-step Readout event (0: none)
    reject_config: str | None = None  # validate_configuration returns (False, this message)
    writes: int = 0
    emitted: int = 0
    disconnected: bool = False


class DisconnectedError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------- nodes
class SourceNode:
    """An event source (the model's output); subscribers receive every emitted event."""

    def __init__(self, board: Board | None = None) -> None:
        self.board, self.subscribers = board, []

    def emit(self, events: list) -> None:
        for sub in self.subscribers:
            sub.receive(list(events))


class BasicSinkNode:
    """A read buffer: ``get_events()`` returns and clears what arrived."""

    def __init__(self) -> None:
        self.board: Board | None = None
        self.events: list = []

    def receive(self, events: list) -> None:
        self.events.extend(events)

    def get_events(self) -> list:
        if self.board is not None:
            self.board.touch()
        out, self.events = self.events, []
        return out


class BasicSourceNode:
    """A write buffer: ``write(events)`` forwards to its target node."""

    def __init__(self) -> None:
        self.target: Any = None

    def write(self, events: list) -> None:
        if self.target is None:
            raise RuntimeError("source node is not connected")
        self.target.handle(list(events))


class NeuronStateSinkNode(BasicSinkNode):
    """A2 state buffer: per-step states from the Readout events it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def set_configuration(self, config: Any) -> None:
        self.config = config

    def reset(self) -> None:
        self.steps: list = []

    def receive(self, events: list) -> None:
        self.steps += [e for e in events if type(e).__name__ == "Readout" and e.output_spikes]

    def _col(self, attr: str) -> list:
        if self.board is not None:
            self.board.touch()
        return [list(getattr(e, attr)) for e in self.steps]

    def get_reservoir_v_mem(self) -> list:
        return self._col("neuron_v_mems")

    def get_reservoir_i_syn(self) -> list:
        return self._col("neuron_i_syns")

    def get_reservoir_i_syn2(self) -> list:
        return self._col("neuron_i_syn2s")

    def get_reservoir_spike(self) -> list:
        return self._col("hidden_spikes")

    def get_output_spike(self) -> list:
        return self._col("output_spikes")

    def get_output_v_mem(self) -> list:
        return self._col("output_v_mems")


class ModelSink:
    """The model's input node."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def handle(self, events: list) -> None:
        self.model.handle(events)


def connect(src: Any, dst: Any) -> None:
    """Wire a source-like node to a sink-like node."""
    if isinstance(src, SourceNode):
        src.subscribers.append(dst)
        dst.board = src.board
    elif isinstance(src, BasicSourceNode):
        src.target = dst
    else:
        raise TypeError(f"cannot connect {type(src).__name__} to {type(dst).__name__}")


# ---------------------------------------------------------------------------------------- model
def spec_from_config(config: Any, chip: ChipSpec) -> XyloSpec:
    """The stand-in's own reading of a configuration (independent of the driver's converter)."""
    hidden = config.reservoir if chip.samna_namespace == "xyloCore2" else config.hidden
    hn, on = hidden.neurons, config.readout.neurons
    n_h, n_o = len(hn), len(on)
    win = np.asarray(config.input.weights, np.int64)
    wout = np.asarray(config.readout.weights, np.int64)
    two = bool(getattr(config, "synapse2_enable", False))
    ns = 2 if two else 1
    w_in = np.zeros((win.shape[0], n_h, ns), np.int64)
    w_in[:, : win.shape[1], 0] = win
    w_rec = np.zeros((n_h, n_h, ns), np.int64)
    w_rec[..., 0] = np.asarray(hidden.weights, np.int64)
    if two:
        w_in[:, : win.shape[1], 1] = np.asarray(config.input.syn2_weights, np.int64)
        w_rec[..., 1] = np.asarray(hidden.syn2_weights, np.int64)
    w_out = np.zeros((n_h, n_o), np.int64)
    w_out[n_h - wout.shape[0] :] = wout
    bias_on = bool(config.bias_enable)
    return XyloSpec(
        chip=chip.name, weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        dash_mem=[n.v_mem_decay for n in hn], dash_syn=[n.i_syn_decay for n in hn],
        dash_syn_2=[getattr(n, "i_syn2_decay", 0) for n in hn],
        dash_mem_out=[n.v_mem_decay for n in on], dash_syn_out=[n.i_syn_decay for n in on],
        threshold=[n.threshold for n in hn], threshold_out=[n.threshold for n in on],
        bias=[n.v_mem_bias if bias_on else 0 for n in hn], bias_out=[n.v_mem_bias if bias_on else 0 for n in on],
        weight_shift_in=int(config.input.weight_bit_shift), weight_shift_rec=int(hidden.weight_bit_shift),
        weight_shift_out=int(config.readout.weight_bit_shift),
        aliases=[(n.alias_target,) if hidden.aliasing and n.alias_target is not None else () for n in hn],
    )  # fmt: skip


def _ids(monitor: Any) -> list[int]:
    if monitor is None:
        return []
    return monitor.ids() if isinstance(monitor, NeuronRange) else [int(i) for i in monitor]


class Model:
    """The SNN core: applies configurations and processes time steps."""

    def __init__(self, board: Board) -> None:
        self.board, self.chip = board, board.chip
        self.source = SourceNode(board)
        self.sink = ModelSink(self)
        self.config: Any = None
        self.spec: XyloSpec | None = None
        self.ram_open = False
        self.now = 0  # next time step to process (never goes back)
        self.reset_state()

    # samna API ---------------------------------------------------------------------------
    def get_source_node(self) -> SourceNode:
        return self.source

    def get_sink_node(self) -> ModelSink:
        return self.sink

    def get_configuration(self) -> Any:
        return copy.deepcopy(self.config)

    def apply_configuration(self, config: Any) -> None:
        self.board.check()
        self.config = copy.deepcopy(config)
        self.spec = spec_from_config(config, self.chip)
        self.sim = get_backend("reference")
        self.sim.load(self.spec)
        if getattr(config, "clear_network_state", False):
            self.reset_state()
        if config.operation_mode == OperationMode.RealTime:
            self.rt_start, self.rt_base = time.monotonic(), self.now
        self.board.log.append(("apply", config.operation_mode))

    def apply_configuration_blocking(self, config: Any) -> None:
        self.apply_configuration(config)

    def open_ram_access(self) -> None:
        self.ram_open = True

    def close_ram_access(self) -> None:
        self.ram_open = False

    # execution ---------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.history: list[np.ndarray] = []
        self.pending: dict[int, np.ndarray] = {}

    def handle(self, events: list) -> None:
        self.board.check(write=True)
        self.touch()
        t = "timestamp" if self.chip.samna_namespace == "xyloCore2" else "timestep"
        for ev in events:
            kind = type(ev).__name__
            if kind == "Spike":
                step = max(int(getattr(ev, t)), self.now)
                if self.config is None or self.config.operation_mode != OperationMode.RealTime:
                    self.process_until(step)  # accelerated: a later spike triggers the earlier steps
                self.frame(step)[int(ev.neuron_id)] += 1
            elif kind == "TriggerProcessing":
                target = ev.target_timestep
                self.process_until(self.now + 1 if target is None else int(target))
            elif kind == "TriggerReadout":
                last = self.now - 1 if self.chip.samna_namespace == "xyloImu" else self.now
                self.source.emit([self.board.ns.event.Readout(**{t: last})])
            elif kind == "WriteRegisterValue" and ev.data == 0:
                self.pending.pop(self.now, None)  # clearing the input registers
            elif kind == "ReadVersion":
                self.source.emit([self.board.ns.event.Version(major=1, minor=1)])

    def frame(self, step: int) -> np.ndarray:
        n_in = self.spec.n_inputs if self.spec is not None else self.chip.max_inputs
        return self.pending.setdefault(step, np.zeros(n_in, np.int64))

    def touch(self) -> None:
        """Real-time mode: process the steps that the wall clock says are due."""
        cfg = self.config
        if cfg is None or cfg.operation_mode != OperationMode.RealTime or self.board.faults.hang:
            return
        dt = cfg.time_resolution_wrap / self.board.clock_hz
        self.process_until(self.rt_base + int((time.monotonic() - self.rt_start) / dt))

    def process_until(self, target: int) -> None:
        if self.spec is None or self.board.faults.hang or target <= self.now:
            return
        steps = list(range(self.now, target))
        self.history += [self.pending.pop(s, np.zeros(self.spec.n_inputs, np.int64)) for s in steps]
        self.now = target
        rec = self.sim.run(np.asarray(self.history, np.int64)[None], record=True)
        self.board.activity.append((time.monotonic(), len(steps)))
        out = [self.readout(rec, len(self.history) - len(steps) + i, s) for i, s in enumerate(steps)]
        f = self.board.faults
        kept = []
        for e in out:
            f.emitted += 1
            if not (f.drop_every and f.emitted % f.drop_every == 0):
                kept.append(e)
        self.source.emit(kept)

    def readout(self, rec: Any, i: int, step: int) -> Any:
        spec, dbg = self.spec, self.config.debug
        n_h = spec.n_hidden
        ram = self.ram_open or getattr(dbg, "ram_access_enable", False) or self.chip.samna_namespace == "xyloCore2"

        def pick(monitor: Any, hid: np.ndarray | None, out: np.ndarray | None) -> list[int]:
            vals = [int(hid[j]) if j < n_h else int(out[j - n_h]) for j in _ids(monitor)]
            return vals if ram else [0] * len(vals)

        t = "timestamp" if self.chip.samna_namespace == "xyloCore2" else "timestep"
        isyn2 = rec.isyn2[0, i] if rec.isyn2 is not None else None
        return self.board.ns.event.Readout(**{
            t: step,
            "output_spikes": [int(v) for v in rec.spikes_out[0, i]],
            "output_v_mems": [int(v) for v in rec.vmem_out[0, i]],
            "hidden_spikes": pick(dbg.monitor_neuron_spike, rec.spikes[0, i], None),
            "neuron_v_mems": pick(dbg.monitor_neuron_v_mem, rec.vmem[0, i], rec.vmem_out[0, i]),
            "neuron_i_syns": pick(dbg.monitor_neuron_i_syn, rec.isyn[0, i], rec.isyn_out[0, i]),
            "neuron_i_syn2s": pick(dbg.monitor_neuron_i_syn2, isyn2, None) if isyn2 is not None else [],
        })  # fmt: skip


# ---------------------------------------------------------------------------------------- board
class PowerMonitor:
    """Samples every rail at the requested rate: idle level plus a term per processed step."""

    def __init__(self, board: Board) -> None:
        self.board, self.source = board, SourceNode(board)
        self.rate: float | None = None
        self.started = 0.0
        self.emitted = 0

    def get_source_node(self) -> SourceNode:
        return self.source

    def start_auto_power_measurement(self, frequency: float) -> None:
        self.rate, self.started, self.emitted = float(frequency), time.monotonic(), 0

    def stop_auto_power_measurement(self) -> None:
        self.touch()
        self.rate = None

    def touch(self) -> None:
        if self.rate is None:
            return
        due = int((time.monotonic() - self.started) * self.rate)
        events = []
        for k in range(self.emitted, due):
            t0, t1 = self.started + k / self.rate, self.started + (k + 1) / self.rate
            steps = sum(n for (t, n) in self.board.activity if t0 <= t < t1)
            for ch in self.board.channels:
                value = self.board.idle_w[ch.name] + self.board.step_j[ch.name] * steps * self.rate
                events.append(self.board.Measurement(channel=int(ch), value=value, timestamp=int(t1 * 1e3)))
        self.emitted = max(self.emitted, due)
        self.source.emit(events)


class IoModule:
    def __init__(self, board: Board) -> None:
        self.board = board

    def set_main_clk_rate(self, hz: int) -> None:
        self.board.clock_hz = float(hz)

    def write_config(self, address: int, value: int) -> None:
        if address == 0x21:
            self.board.clock_hz = 100e6 / (2 * (value + 1))


class StopWatch:
    def start(self) -> None:
        self.running = True


class Board:
    """One HDK (what ``samna.device.open_device`` returns)."""

    def __init__(self, chip: ChipSpec, ns: Any, channels: Any, measurement_cls: Any, firmware: dict) -> None:
        self.chip, self.ns, self.channels, self.Measurement = chip, ns, channels, measurement_cls
        self.firmware = dict(firmware)
        self.faults = Faults()
        self.clock_hz = chip.default_clock_hz
        self.activity: list[tuple[float, int]] = []
        self.log: list = []
        self.idle_w = {ch.name: 1e-4 * (i + 1) for i, ch in enumerate(channels)}
        self.step_j = {ch.name: 2e-9 * (i + 1) for i, ch in enumerate(channels)}
        self.model = Model(self)
        self.power = PowerMonitor(self)
        self.io = IoModule(self)
        self.accel_inputs = False

    def check(self, write: bool = False) -> None:
        f = self.faults
        if write:
            f.writes += 1
            if f.disconnect_after_writes is not None and f.writes > f.disconnect_after_writes:
                f.disconnected = True
        if f.disconnected:
            raise DisconnectedError("Device disconnected: USB transfer failed")

    def touch(self) -> None:
        self.check()
        self.model.touch()
        self.power.touch()

    # samna API ---------------------------------------------------------------------------
    def get_model(self) -> Model:
        self.check()
        return self.model

    get_xylo_model = get_model

    def get_model_source_node(self) -> SourceNode:
        return self.model.source

    def get_model_sink_node(self) -> ModelSink:
        return self.model.sink

    def get_power_monitor(self) -> PowerMonitor:
        return self.power

    def get_stop_watch(self) -> StopWatch:
        return StopWatch()

    def get_io_module(self) -> IoModule:
        return self.io

    def get_firmware_versions(self) -> dict:
        self.check()
        return dict(self.firmware)

    def enable_manual_input_acceleration(self, enable: bool) -> None:
        self.accel_inputs = bool(enable)

    def reset_board_soft(self, board_config: Any = None) -> None:
        self.check()
        if board_config is not None:
            self.clock_hz = float(board_config.main_clock_frequency)
        self.model.config, self.model.spec = None, None
        self.model.reset_state()
        self.log.append(("reset_board_soft", self.clock_hz))
