"""The stand-in HDK objects ``samna.device.open_device`` returns, one class per chip's accessors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec

from .board import AfeModel, DisconnectedError, Faults, IoModule, PowerMonitor, StopWatch
from .model import Model


class Board:
    """What every Xylo HDK has (power monitor, IO module, stop watch, firmware versions)."""

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
        self.afe = AfeModel()
        self.stop_watch = StopWatch()
        self.accel_inputs = False
        self.sensor_input: np.ndarray | None = None  # (T, Nin) the on-board sensor feeds in real time
        self.reset_pending: Any = False
        self.delayed: list[tuple[float, Any, list]] = []  # (due, node, events)

    def check(self, call: str = "", write: bool = False) -> None:
        """Raise what a failing samna call raises: injected exceptions, then disconnection."""
        f = self.faults
        if call in f.raise_in:
            raise f.raise_in[call]
        if write:
            f.writes += 1
            if f.disconnect_after_writes is not None and f.writes > f.disconnect_after_writes:
                f.disconnected = True
        if f.disconnected:
            raise DisconnectedError("Device disconnected: USB transfer failed")

    def emit(self, node: Any, events: list, delay: float = 0.0) -> None:
        if delay > 0:
            self.delayed.append((time.monotonic() + delay, node, events))
        else:
            node.emit(events)

    def touch(self) -> None:
        self.check("get_events")
        self.finish_reset()
        now = time.monotonic()
        due = [d for d in self.delayed if d[0] <= now]
        self.delayed = [d for d in self.delayed if d[0] > now]
        for _, node, events in due:
            node.emit(events)
        self.model.touch()
        self.power.touch()

    def finish_reset(self) -> None:
        """A soft reset completes (asynchronously, at the board's next activity)."""
        if self.reset_pending is False:
            return
        cfg, self.reset_pending = self.reset_pending, False
        self.model.soft_reset()
        self.accel_inputs = False
        self.clock_hz = float(cfg.main_clock_frequency) if cfg is not None else self.chip.default_clock_hz
        self.log.append(("reset_board_soft done", self.clock_hz))

    # samna API ---------------------------------------------------------------------------
    def get_power_monitor(self) -> PowerMonitor:
        self.check("get_power_monitor")
        return self.power

    def get_stop_watch(self) -> StopWatch:
        return self.stop_watch

    def get_io_module(self) -> IoModule:
        self.check("get_io_module")
        return self.io

    def get_firmware_versions(self) -> dict:
        self.check("get_firmware_versions")
        return dict(self.firmware)


class XyloA2TestBoard(Board):
    """Xylo Audio 2 HDK: the core through ``get_xylo_model``, the audio front end through ``get_afe_model``."""

    def get_xylo_model(self) -> Model:
        self.check("get_xylo_model")
        return self.model

    def get_afe_model(self) -> AfeModel:
        self.check("get_afe_model")
        return self.afe


class _ModelNodes(Board):
    def get_model(self) -> Model:
        self.check("get_model")
        return self.model

    def get_model_source_node(self) -> Any:
        return self.model.source

    def get_model_sink_node(self) -> Any:
        return self.model.sink

    def _reset(self, cfg: Any) -> None:
        self.check("reset_board_soft")
        self.reset_pending = cfg
        self.log.append(("reset_board_soft", None if cfg is None else cfg.main_clock_frequency))


class XyloImuTestBoard(_ModelNodes):
    """Xylo IMU HDK."""

    def enable_manual_input_acceleration(self, enable: bool) -> None:
        self.check("enable_manual_input_acceleration")
        self.accel_inputs = bool(enable)

    def reset_board_soft(self) -> None:
        self._reset(None)


class XyloAudio3TestBoard(_ModelNodes):
    """Xylo Audio 3 HDK; ``reset_board_soft`` takes an optional board configuration (clocks)."""

    def reset_board_soft(self, board_config: Any = None) -> None:
        self._reset(board_config)


HDK_CLASSES = {"xyloCore2": XyloA2TestBoard, "xyloImu": XyloImuTestBoard, "xyloAudio3": XyloAudio3TestBoard}
