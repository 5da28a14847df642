"""A stand-in Xylo HDK: event nodes, model, IO module, AFE, power monitor and stop watch.

Per chip only the accessors SynSense's code calls exist (docs/samna-driver.md): ``get_xylo_model``
and ``get_afe_model`` on A2, ``get_model`` / ``get_model_source_node`` / ``get_model_sink_node`` on
IMU and A3, ``enable_manual_input_acceleration`` on IMU. ``reset_board_soft`` returns at once and
completes later (at the next read or write): whatever was applied in between is lost, unless a
register read synchronised first. Faults (`Faults`) make it hang, disconnect, drop or delay
readouts, report another version, leave power measurement running, or raise from any samna call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xylodeploy.chips import ChipSpec
from xylodeploy.ir.xylospec import XyloSpec

from .events import StateFrame
from .model import Model

if TYPE_CHECKING:
    from .hdk import Board


@dataclass
class Faults:
    """Fault injection switches (all off by default)."""

    hang: bool = False  # never process anything: reads time out (registers still answer)
    disconnect_after_writes: int | None = None  # after N event writes every call raises RuntimeError
    drop_every: int = 0  # drop every n-th per-step readout (0: none)
    readout_delay_s: float = 0.0  # TriggerReadout answered this late
    step_delay_s: float = 0.0  # each processed step's readout arrives this much after the previous one
    version: tuple[int, int] = (1, 1)  # what the A2 core answers to ReadVersion
    raise_in: dict[str, BaseException] = field(default_factory=dict)  # samna call name -> exception to raise
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
        self.events.extend(e for e in events if not isinstance(e, StateFrame))

    def get_events(self) -> list:
        if self.board is not None:
            self.board.touch()
        out, self.events = self.events, []
        return out

    def clear_events(self) -> None:
        self.events = []


class BasicSourceNode:
    """A write buffer: ``write(events)`` forwards to its target node."""

    def __init__(self) -> None:
        self.target: Any = None

    def write(self, events: list) -> None:
        if self.target is None:
            raise RuntimeError("source node is not connected")
        if not isinstance(events, list):
            raise TypeError("write(): incompatible function arguments (expected a list of events)")
        self.target.handle(list(events))


class NeuronStateSinkNode(BasicSinkNode):
    """A2 state buffer; every getter returns one list per monitored neuron (neurons x time steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.config: Any = None
        self.reset()

    def set_configuration(self, config: Any) -> None:
        self.config = config

    def reset(self) -> None:
        self.frames: list[dict] = []

    def receive(self, events: list) -> None:
        self.frames += [e.values for e in events if isinstance(e, StateFrame)]

    def _col(self, key: str) -> list:
        if self.board is not None:
            self.board.touch()
        if self.config is None:
            raise RuntimeError("NeuronStateSinkNode: set_configuration() was never called")
        rows = [f[key] for f in self.frames]
        width = max((len(r) for r in rows), default=0)
        return [[r[j] for r in rows] for j in range(width)] if rows else []

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
    if isinstance(src, SourceNode) and isinstance(dst, BasicSinkNode):
        src.subscribers.append(dst)
        dst.board = src.board
    elif isinstance(src, BasicSourceNode) and isinstance(dst, ModelSink):
        src.target = dst
    else:
        raise TypeError(f"sequential(): cannot connect {type(src).__name__} to {type(dst).__name__}")


# ------------------------------------------------------------------------------- configuration
def spec_from_config(config: Any, chip: ChipSpec) -> XyloSpec:
    """The stand-in's own reading of a configuration (independent of the driver's converter)."""
    hidden = config.reservoir if chip.samna_namespace == "xyloCore2" else config.hidden
    hn, on = hidden.neurons, config.readout.neurons
    n_h, n_o = len(hn), len(on)
    win = np.asarray(config.input.weights, np.int64).reshape(-1, n_h if n_h <= 128 else 128)
    wout = np.asarray(config.readout.weights, np.int64).reshape(-1, n_o)
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

    def is_auto_power_measurement_active(self) -> bool:
        return self.rate is not None

    def start_auto_power_measurement(self, frequency: float) -> None:
        self.board.check("start_auto_power_measurement")
        if self.rate is not None:
            raise RuntimeError("auto power measurement is already active")
        if not isinstance(frequency, float):
            raise TypeError("start_auto_power_measurement(): incompatible function arguments")
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


class XyloHandler:
    """A2 FPGA handler (``get_io_module().get_xylo_handler()``): real-time clock and mode."""

    def __init__(self, board: Board) -> None:
        self.board, self.mode, self.clk = board, None, 0

    def set_main_clk_rate(self, hz: int) -> None:
        self.clk = int(hz)

    def set_operation_mode(self, mode: Any) -> None:
        self.mode = mode
        self.board.model.start_a2_realtime()


class IoModule:
    def __init__(self, board: Board) -> None:
        self.board, self.config_words = board, {}
        self.handler = XyloHandler(board)
        self.saer_hz = self.spi_hz = 0

    def set_main_clk_rate(self, hz: int) -> None:
        if self.board.chip.samna_namespace != "xyloImu":
            raise AttributeError("'IoModule' object has no attribute 'set_main_clk_rate'")
        self.board.clock_hz = float(hz)

    def set_saer_clk_rate(self, hz: int) -> None:
        self.saer_hz = int(hz)

    def set_spi_clk_rate(self, hz: int) -> None:
        self.spi_hz = int(hz)

    def write_config(self, address: int, value: int) -> None:
        self.config_words[int(address)] = int(value)
        wait = (self.config_words.get(0x20, 0) << 16) | self.config_words.get(0x21, 0)
        self.board.clock_hz = 100e6 / (2 * (wait + 1))

    def get_xylo_handler(self) -> XyloHandler:
        if self.board.chip.samna_namespace != "xyloCore2":
            raise AttributeError("'IoModule' object has no attribute 'get_xylo_handler'")
        return self.handler


class AfeModel:
    """A2 audio front end: only the SAER switch the driver uses."""

    def __init__(self) -> None:
        self.saer = True

    def set_saer_interface_enable(self, enable: bool) -> None:
        self.saer = bool(enable)


class StopWatch:
    def __init__(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False
