"""`SamnaBackend`: run a `XyloSpec` on a Xylo Audio 2 / IMU / Audio 3 HDK through SynSense's samna.

samna is imported only through `detect.import_real_samna` (via `boards`) (never the PyPI stub), or
injected as an object (tests pass a stand-in). Every samna exception, of any type, becomes a one-line
DeviceError naming the chip, board, step and samna's message, after the board is put back in a
known state (power measurement stopped, accelerated-mode configuration re-applied, state cleared).
The per-chip sequences live in `chip` / `realtime`, discovery in `boards`; their sources are listed in
docs/samna-driver.md.

    be = SamnaBackend()              # first board found, any chip
    be.load(spec)                    # convert, samna-validate, apply
    rec = be.run(raster, record=True)
    for out in be.stream(frames):    # real-time mode, one output vector per step
        ...
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.backends.samna import board_io as io
from xylodeploy.backends.samna import chip as chip_ops
from xylodeploy.backends.samna import realtime as rt
from xylodeploy.backends.samna.boards import (
    NO_BOARD_HINT,
    BoardInfo,
    _firmware,
    _load_samna,
    find_boards,
    firmware_problems,
)
from xylodeploy.backends.samna.config import dialect, namespace, spec_to_config
from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc import validity
from xylodeploy.errors import ConfigError, DeviceError
from xylodeploy.ir.xylospec import XyloSpec


class SamnaBackend:
    """A Xylo HDK as a `Backend` (see module docstring)."""

    name = "samna"

    def __init__(
        self,
        samna: Any = None,
        chip: str | ChipSpec | None = None,
        serial: str | None = None,
        check_firmware: bool = True,
        min_timeout_s: float = io.MIN_CLIP_TIMEOUT_S,
        timeout_per_neuron_step_s: float | None = None,
        poll_s: float = 0.002,
        strict_readouts: bool = False,
        imu_interface: dict | None = None,
    ) -> None:
        self.samna = _load_samna(samna)
        self.imu_interface = imu_interface  # Xylo IMU: input-interface registers for real time (to_samna())
        boards = [b for b in find_boards(self.samna, chip) if serial is None or b.serial == serial]
        if not boards:
            what = get_chip(chip).title if chip else "Xylo"
            raise DeviceError(f"no {what} board found{f' with serial {serial}' if serial else ''}: {NO_BOARD_HINT}")
        info = boards[0]
        self.chip, self.dialect = info.chip, dialect(info.chip)
        self.board = BoardInfo(info.chip, info.serial, {}, info.handle)
        self.ns = namespace(self.samna, self.chip)
        self.min_timeout_s, self.per_step_s, self.poll_s = min_timeout_s, timeout_per_neuron_step_s, poll_s
        self.strict_readouts, self.clock_hz = strict_readouts, self.chip.default_clock_hz
        self.missing_steps: list[tuple[int, int]] = []  # (clip, step) readouts the board skipped in the last run
        self.spec: XyloSpec | None = None
        self._config: Any = None  # the configuration on the board (accelerated mode unless streaming)
        self._record: bool | None = None
        self._power_sink = self.bufs = None
        with self._guard("opening the board", safe=False):
            self.hdk = self.samna.device.open_device(info.handle)
            fw = _firmware(self.hdk.get_firmware_versions()) if hasattr(self.hdk, "get_firmware_versions") else {}
        self.board = BoardInfo(info.chip, info.serial, fw, info.handle)
        old = firmware_problems(self.chip, fw)
        if check_firmware and old:
            raise DeviceError(f"{self.board.describe()}: firmware too old ({'; '.join(old)}); update the HDK firmware")
        with self._guard("setting up event buffers", safe=False):
            self.bufs = io.open_buffers(self.samna, self.hdk, self.chip, self.dialect)
        with self._guard("starting up the core (TriggerProcessing, ReadVersion)", safe=False):
            chip_ops.startup(self)

    # --- plumbing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, step: str, safe: bool = True) -> Iterator[None]:
        """Any samna exception or timeout -> DeviceError naming chip, board, step and samna's message.

        The board is first put back in a known state (`_safe_state`) unless ``safe`` is False.
        Our own ConfigErrors (bad input) pass through unchanged.
        """
        where = f"{self.chip.title} board {self.board.serial}"
        try:
            yield
        except ConfigError:
            raise
        except DeviceError as exc:
            if safe:
                self._safe_state()
            raise DeviceError(f"{where}: {step}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - samna's bindings raise any type (pybind11)
            if safe:
                self._safe_state()
            raise DeviceError(f"{where}: {step} failed: samna raised {type(exc).__name__}: {exc}") from exc

    def _safe_state(self) -> None:
        """Best effort: stop power measurement, restore the accelerated-mode configuration, clear state, drain."""
        steps = [lambda: chip_ops.power_stop(self)]
        if self._config is not None and self.spec is not None:
            steps += [lambda: self._configure(record=False), lambda: chip_ops.reset_state(self)]
        steps.append(lambda: self.bufs.read.get_events())
        for step in steps:
            with contextlib.suppress(Exception):
                step()

    def _apply(self, config: Any) -> None:
        chip_ops.apply(self, config)

    # --- Backend protocol -----------------------------------------------------------------------
    def load(self, spec: XyloSpec) -> None:
        """Convert ``spec``, validate it with samna (refusing with samna's message), apply it."""
        if get_chip(spec.chip).name != self.chip.name:
            raise ConfigError(f"spec targets {spec.chip} but the board is a {self.chip.title} ({self.chip.name})")
        with self._guard("converting the spec to a samna configuration", safe=False):
            config = spec_to_config(spec, self.samna, self.chip)
            config.operation_mode = self.ns.OperationMode.AcceleratedTime
            ok, message = self.ns.validate_configuration(config)
        if not ok:
            raise DeviceError(f"samna rejected the configuration for {self.chip.name}: {message}")
        validity.check(spec, "chip", "samna backend")  # what samna lets through but the chip may not hold
        self.spec, self._config, self._record = spec, config, None
        with self._guard("applying the configuration"):
            self._configure(record=False)
            chip_ops.reset_state(self)

    def _configure(self, record: bool) -> None:
        """Monitors for ``record``, accelerated-time mode, applied (IMU: host input acceleration on)."""
        spec, d = self.spec, self.dialect
        io.monitor_settings(
            self._config, self.ns.configuration, d, spec.n_hidden, spec.n_outputs, spec.uses_synapse2, record
        )
        self._config.operation_mode = self.ns.OperationMode.AcceleratedTime
        if self.chip.samna_namespace == "xyloImu":
            self.hdk.enable_manual_input_acceleration(True)
        self._apply(self._config)
        if self.bufs.state is not None:
            self.bufs.state.set_configuration(self._config)
        self._record = record

    def reset(self) -> None:
        """Clear all neuron state on the chip."""
        if self._config is None:
            return
        with self._guard("resetting the network state"):
            chip_ops.reset_state(self)

    def _timeout(self, n_steps: int, record: bool) -> float:
        """SynSense's clip timeout (`board_io.clip_timeout`), never below ``min_timeout_s``."""
        t = io.clip_timeout(self.dialect, n_steps, self.spec.n_hidden, self.spec.dt, record, self.per_step_s)
        return max(t, self.min_timeout_s)

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Run each (T, Nin) clip of a raster in accelerated-time mode, from reset state."""
        if self.spec is None:
            raise ConfigError("samna backend: run() called before load(spec)")
        arr, _ = as_batch(raster, self.spec.n_inputs, "board input raster")
        parts, self.missing_steps = [], []
        for b in range(arr.shape[0]):
            with self._guard(f"running clip {b} ({'with' if record else 'without'} recording)"):
                if self._record != record:
                    self._configure(record)
                if b > 0 or self._dirty:
                    chip_ops.reset_state(self)
                self._dirty = True
                parts.append(self._run_clip(arr[b], record, b))
        return Recording(**{k: np.concatenate([p.fields()[k] for p in parts]) for k in parts[0].fields()})

    _dirty = False  # the network has run since its last state reset

    def _run_clip(self, clip: np.ndarray, record: bool, b: int) -> Recording:
        spec, d, ns, what = self.spec, self.dialect, self.ns, f"clip {b}"
        chip_ops.set_ram_access(self, record)
        start = io.current_step(ns, self.bufs, d, self.poll_s, what)
        if self.bufs.state is not None:
            self.bufs.state.reset()
        final = start + clip.shape[0] - 1
        events = io.input_events(ns, d, clip, start, self.chip.max_input_events)
        self.bufs.write.write(events + io.end_of_clip_events(ns, d, final))
        timeout = self._timeout(clip.shape[0], record)
        got, missing = io.wait_readouts(self.bufs.read, d, start, final, timeout, self.poll_s, what)
        n_h, n_o, two = spec.n_hidden, spec.n_outputs, spec.uses_synapse2
        if self.bufs.state is not None:
            missing = list(range(start + io.sink_steps(self.bufs.state), final + 1))
        self._note_missing(b, start, missing, clip.shape[0])
        if self.bufs.state is not None:
            return io.decode_state_sink(self.bufs.state, clip.shape[0], n_h, n_o, two, record)
        return io.decode_readouts(got, start, clip.shape[0], n_h, n_o, two, record)

    def _note_missing(self, b: int, start: int, missing: list[int], n_t: int) -> None:
        """Gaps in the readouts: zeros (as SynSense's readers leave them) and a warning; fatal if strict."""
        if not missing:
            return
        msg = f"clip {b}: board skipped {len(missing)} of {n_t} readouts (first missing step {missing[0] - start})"
        if self.strict_readouts:
            raise DeviceError(msg)
        self.missing_steps += [(b, s - start) for s in missing]
        warnings.warn(f"{self.chip.title} board {self.board.serial}: {msg}; those steps read as zero", stacklevel=3)

    # --- real time ----------------------------------------------------------------------------
    @property
    def realtime_host_input(self) -> bool:
        """Whether `stream` accepts host frames: IMU only (A2 and A3 real time take their own audio input)."""
        return self.chip.samna_namespace == "xyloImu"

    def stream(self, frames: Iterable[np.ndarray] | None = None, lead_steps: int = 4) -> Iterator[np.ndarray]:
        """Real-time mode: yield each step's readout spike counts (Nout,) as the chip produces them.

        ``frames=None``: the chip's own sensor drives the network (A2 audio front end, IMU sensor, A3
        microphone) until the caller stops iterating. ``frames`` (each (Nin,) event counts; IMU only)
        are scheduled ``lead_steps`` ahead of the chip's clock. On exit the board is back in
        accelerated-time mode with its state cleared.
        """
        if self.spec is None:
            raise ConfigError("samna backend: stream() called before load(spec)")
        if frames is not None and not self.realtime_host_input:
            rt.start(self, host_input=True)  # raises the ConfigError
        return self._stream(frames, max(int(lead_steps), 1))

    def _stream(self, frames: Iterable[np.ndarray] | None, lead: int) -> Iterator[np.ndarray]:
        started = False
        try:
            with self._guard("starting real-time mode"):
                rt.start(self, host_input=frames is not None)
            started = True
            outputs = rt.a2_outputs(self) if self.bufs.state is not None else rt.readout_outputs(self, frames, lead)
            while True:
                with self._guard("streaming in real-time mode"):
                    out = next(outputs, None)
                if out is None:
                    return
                yield out
        finally:
            if started:
                with self._guard("leaving real-time mode"):
                    rt.stop(self)
            else:  # the start failed and was reported; leave real time quietly
                with contextlib.suppress(Exception):
                    rt.stop(self)

    # --- clock and power ----------------------------------------------------------------------------
    def set_clock(self, hz: float) -> float:
        """Set the core clock (nearest divider of 100 MHz on A2/IMU); returns the clock obtained in Hz."""
        if not hz > 0:
            raise ConfigError(f"clock frequency must be > 0 Hz, got {hz}")
        with self._guard("setting the core clock"):
            actual = chip_ops.set_clock_registers(self, hz)
            self.clock_hz = actual
            if self.dialect.clock == "board_config":  # A3: the clock is a board reset parameter
                chip_ops.soft_reset(self)
                if self._config is not None:
                    self._configure(record=False)
        return actual

    def power_start(self, frequency_hz: float | None = None) -> None:
        """Start the board's automatic power sampling (default rate: the chip's); restarts it if running."""
        with self._guard("starting power measurement"):
            chip_ops.power_start(self, float(frequency_hz or self.chip.default_power_hz))

    def power_read(self) -> list[tuple[str, float, float]]:
        """Drain power samples as (rail, watts, host time in s)."""
        if self._power_sink is None:
            return []
        channels = getattr(self.samna, self.dialect.power_namespace).MeasurementChannels
        code = {int(getattr(channels, name)): rail for name, rail in self.chip.power_rails.items()}
        now = time.monotonic()
        with self._guard("reading power samples"):
            events = self._power_sink.get_events()
        return [(code[int(e.channel)], float(e.value), now) for e in events if int(e.channel) in code]

    def power_stop(self) -> None:
        """Stop power sampling (no-op if it is not running)."""
        if self._power_sink is not None:
            with self._guard("stopping power measurement", safe=False):
                chip_ops.power_stop(self)

    def close(self) -> None:
        """Leave the board idle and close it."""
        self._safe_state()
        with contextlib.suppress(Exception):
            self.samna.device.close_device(self.hdk)
