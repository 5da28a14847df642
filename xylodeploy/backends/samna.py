"""`SamnaBackend`: run a `XyloSpec` on a Xylo Audio 2 / IMU / Audio 3 HDK through SynSense's samna.

samna is imported only here, through `samna_detect.import_real_samna` (never the PyPI stub), or
injected as an object (tests pass a stand-in). Every samna failure becomes a one-line DeviceError
after the board is put back in a known state (state cleared, power measurement stopped).

    be = SamnaBackend()              # first board found, any chip
    be.load(spec)                    # convert, samna-validate, apply
    rec = be.run(raster, record=True)
    for out in be.stream(frames):    # real-time mode, one output vector per step
        ...
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.backends import _samna_io as io
from xylodeploy.backends._samna_config import A2_CLOCK_REGISTER, CLOCK_BASE_HZ, dialect, namespace, spec_to_config
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.chips import ChipSpec, available_chips, get_chip
from xylodeploy.drc import validity
from xylodeploy.errors import ConfigError, DeviceError
from xylodeploy.ir.xylospec import XyloSpec


@dataclass(frozen=True)
class BoardInfo:
    """A Xylo HDK seen by samna."""

    chip: ChipSpec
    serial: str
    firmware: dict[str, str] = field(default_factory=dict)
    handle: Any = None  # samna's device-info object

    def describe(self) -> str:
        fw = ", ".join(f"{k} {v}" for k, v in sorted(self.firmware.items())) or "firmware unknown"
        return f"{self.chip.title} board {self.serial} ({self.chip.device_type_name}; {fw})"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(text).strip().lstrip("v").split(".") if p.isdigit())


def _firmware(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)) and all(isinstance(x, (list, tuple)) and len(x) == 2 for x in raw):
        return {str(k): str(v) for k, v in raw}
    return {k: str(getattr(raw, k)) for k in ("fxtree", "unifirm") if hasattr(raw, k)}


def firmware_problems(chip: ChipSpec, firmware: dict[str, str]) -> list[str]:
    """Firmware components older than the chip's minimum (docs/chip-facts.md, chips)."""
    return [
        f"{name} {firmware[name]} < required {need}"
        for name, need in chip.min_firmware.items()
        if name in firmware and _version(firmware[name]) < _version(need)
    ]


def _chip_of(type_name: str) -> ChipSpec | None:
    return next((get_chip(c) for c in available_chips() if get_chip(c).device_type_name == type_name), None)


def find_boards(samna: Any, chip: ChipSpec | str | None = None) -> list[BoardInfo]:
    """Every Xylo HDK samna lists (optionally only ``chip``'s), without opening any."""
    want = None if chip is None else get_chip(chip)
    found = []
    try:
        devices = list(samna.device.get_all_devices())
    except (RuntimeError, OSError) as exc:
        raise DeviceError(f"samna could not list USB devices: {exc}") from exc
    for info in devices:
        c = _chip_of(str(getattr(info, "device_type_name", "")))
        if c is not None and (want is None or c.name == want.name):
            found.append(BoardInfo(c, str(getattr(info, "serial_number", "?")), handle=info))
    return found


def _load_samna(samna: Any) -> Any:
    if samna is not None:
        return samna
    from xylodeploy.backends.samna_detect import import_real_samna

    return import_real_samna("running networks on a Xylo board")


class SamnaBackend:
    """A Xylo HDK as a `Backend` (see module docstring)."""

    name = "samna"

    def __init__(
        self,
        samna: Any = None,
        chip: str | ChipSpec | None = None,
        serial: str | None = None,
        check_firmware: bool = True,
        min_timeout_s: float = 2.0,
        timeout_per_neuron_step_s: float = 1e-5,
        poll_s: float = 0.002,
    ) -> None:
        self.samna = _load_samna(samna)
        boards = [b for b in find_boards(self.samna, chip) if serial is None or b.serial == serial]
        if not boards:
            what = get_chip(chip).title if chip else "Xylo"
            raise DeviceError(f"no {what} board found{f' with serial {serial}' if serial else ''}: {NO_BOARD_HINT}")
        info = boards[0]
        self.chip, self.dialect = info.chip, dialect(info.chip)
        self.ns = namespace(self.samna, self.chip)
        self.min_timeout_s, self.per_step_s, self.poll_s = min_timeout_s, timeout_per_neuron_step_s, poll_s
        try:
            self.hdk = self.samna.device.open_device(info.handle)
            fw = _firmware(self.hdk.get_firmware_versions()) if hasattr(self.hdk, "get_firmware_versions") else {}
        except (RuntimeError, OSError) as exc:
            raise DeviceError(f"cannot open {info.describe()}: {exc}") from exc
        self.board = BoardInfo(info.chip, info.serial, fw, info.handle)
        old = firmware_problems(self.chip, fw)
        if check_firmware and old:
            raise DeviceError(f"{self.board.describe()}: firmware too old ({'; '.join(old)}); update the HDK firmware")
        self.clock_hz = self.chip.default_clock_hz
        self.spec: XyloSpec | None = None
        self._config: Any = None
        self._record: bool | None = None
        self._power_sink: Any = None
        with self._guard("setting up event buffers"):
            self.bufs = io.open_buffers(self.samna, self.hdk, self.chip, self.dialect)

    # --- plumbing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """samna errors and our timeouts -> DeviceError, after restoring a known board state."""
        try:
            yield
        except DeviceError as exc:
            self._safe_state()
            raise DeviceError(f"{self.board.serial if hasattr(self, 'board') else 'board'}: {exc}") from exc
        except (RuntimeError, OSError) as exc:
            self._safe_state()
            raise DeviceError(f"{what} failed on the board ({type(exc).__name__}: {exc})") from exc

    def _safe_state(self) -> None:
        """Best effort: stop power measurement, clear network state, drain buffers."""
        for step in (self.power_stop, self._reset_state, lambda: self.bufs.read.get_events()):
            with contextlib.suppress(Exception):
                step()

    def _apply(self, config: Any) -> None:
        self.hdk.get_model().apply_configuration(config)

    def _reset_state(self) -> None:
        if self._config is None:
            return
        if hasattr(self._config, "clear_network_state"):  # A2: clear flag (docs/chip-facts.md)
            self._config.clear_network_state = True
            self._apply(self._config)
            self._config.clear_network_state = False
            self._apply(self._config)
        else:  # IMU/A3 have no working state reset (§8.16): soft-reset the board, re-apply the config
            self._soft_reset()
            self._apply(self._config)
        if self.bufs.state is not None:
            self.bufs.state.reset()

    def _soft_reset(self) -> None:
        if self.dialect.clock == "board_config":
            cfg = self.ns.XyloAudio3TestBoardDefaultConfig()
            cfg.main_clock_frequency, cfg.pdm_clock_frequency = int(self.clock_hz), int(self.clock_hz / 32)
            self.hdk.reset_board_soft(cfg)
        else:
            self.hdk.reset_board_soft()

    # --- Backend protocol -----------------------------------------------------------------------
    def load(self, spec: XyloSpec) -> None:
        """Convert ``spec``, validate it with samna (refusing with samna's message), apply it."""
        if get_chip(spec.chip).name != self.chip.name:
            raise ConfigError(f"spec targets {spec.chip} but the board is a {self.chip.title} ({self.chip.name})")
        config = spec_to_config(spec, self.samna, self.chip)
        config.operation_mode = self.ns.OperationMode.AcceleratedTime
        ok, message = self.ns.validate_configuration(config)
        if not ok:
            raise DeviceError(f"samna rejected the configuration for {self.chip.name}: {message}")
        validity.check(spec, "chip", "samna backend")  # what samna lets through but the chip may not hold
        self.spec, self._config, self._record = spec, config, None
        with self._guard("applying the configuration"):
            self._configure(record=False)

    def _configure(self, record: bool) -> None:
        spec, d = self.spec, self.dialect
        io.monitor_settings(
            self._config, self.ns.configuration, d, spec.n_hidden, spec.n_outputs, spec.uses_synapse2, record
        )
        self._config.operation_mode = self.ns.OperationMode.AcceleratedTime
        if hasattr(self.hdk, "enable_manual_input_acceleration"):
            self.hdk.enable_manual_input_acceleration(True)
        model = self.hdk.get_model()
        if hasattr(model, "open_ram_access") and self.chip.samna_namespace == "xyloImu":
            (model.open_ram_access if record else model.close_ram_access)()
        self._apply(self._config)
        if self.bufs.state is not None:
            self.bufs.state.set_configuration(self._config)
        self._record = record

    def reset(self) -> None:
        """Clear all neuron state on the chip."""
        with self._guard("resetting the network state"):
            self._reset_state()

    def _timeout(self, n_steps: int, record: bool) -> float:
        return io.read_timeout(n_steps, self.spec.n_hidden, record, self.min_timeout_s, self.per_step_s)

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Run each (T, Nin) clip of a raster in accelerated-time mode, from reset state."""
        if self.spec is None:
            raise ConfigError("samna backend: run() called before load(spec)")
        arr, _ = as_batch(raster, self.spec.n_inputs, "board input raster")
        parts = []
        with self._guard("running a clip"):
            if self._record != record:
                self._configure(record)
            for b in range(arr.shape[0]):
                self._reset_state()
                parts.append(self._run_clip(arr[b], record, f"clip {b}"))
        return Recording(**{k: np.concatenate([p.fields()[k] for p in parts]) for k in parts[0].fields()})

    def _run_clip(self, clip: np.ndarray, record: bool, what: str) -> Recording:
        spec, d, ns = self.spec, self.dialect, self.ns
        start = io.current_step(ns, self.bufs, d, self.min_timeout_s, self.poll_s, what)
        if self.bufs.state is not None:
            self.bufs.state.reset()
        final = start + clip.shape[0] - 1
        events = io.input_events(ns, d, clip, start, self.chip.max_input_events)
        self.bufs.write.write(events + io.end_of_clip_events(ns, d, final))
        got = io.wait_readouts(self.bufs.read, d, start, final, self._timeout(clip.shape[0], record), self.poll_s, what)
        n_h, n_o, two = spec.n_hidden, spec.n_outputs, spec.uses_synapse2
        if self.bufs.state is not None:
            return io.decode_state_sink(self.bufs.state, clip.shape[0], n_h, n_o, two, record)
        return io.decode_readouts(got, start, n_h, n_o, two, record)

    # --- real time ----------------------------------------------------------------------------
    def stream(self, frames: Iterable[np.ndarray] | None = None, lead_steps: int = 4) -> Iterator[np.ndarray]:
        """Real-time mode: yield each step's readout spike counts (Nout,) as the chip produces them.

        ``frames`` (each (Nin,) event counts) are scheduled ``lead_steps`` ahead of the chip's
        clock; with ``frames=None`` the network free-runs (on-chip sensor input) until the caller
        stops iterating. Raises DeviceError if the host falls behind the chip. On exit the board
        is returned to accelerated-time mode with its state cleared.
        """
        if self.spec is None:
            raise ConfigError("samna backend: stream() called before load(spec)")
        return self._stream(frames, lead_steps)

    def _stream(self, frames: Iterable[np.ndarray] | None, lead: int) -> Iterator[np.ndarray]:
        d, ns, n_out = self.dialect, self.ns, self.spec.n_outputs
        with self._guard("starting real-time mode"):
            self._configure(record=False)
            self._reset_state()
            self._config.operation_mode = ns.OperationMode.RealTime
            self._config.time_resolution_wrap = int(round(self.spec.dt * self.clock_hz))
            self._apply(self._config)
            start = io.current_step(ns, self.bufs, d, self.min_timeout_s, self.poll_s, "real-time start") + lead
        source = iter(frames) if frames is not None else None
        stash: dict[int, Any] = {}
        sent, t, exhausted = 0, 0, source is None
        try:
            while True:
                with self._guard("streaming"):
                    while not exhausted and sent < t + lead:  # keep the input `lead` steps ahead
                        frame = next(source, None)
                        if frame is None:
                            exhausted = True
                            break
                        clip, _ = as_batch(np.asarray(frame).reshape(1, -1), self.spec.n_inputs, "real-time frame")
                        io.drain(self.bufs.read, d, stash)
                        if any(s >= start + sent for s in stash):
                            raise DeviceError(f"real-time stream fell behind the chip at step {sent} (dt too short?)")
                        self.bufs.write.write(io.input_events(ns, d, clip[0], start + sent, self.chip.max_input_events))
                        sent += 1
                    if source is not None and exhausted and t >= sent:
                        return
                    timeout = self.min_timeout_s + 10 * self.spec.dt
                    got = io.wait_readouts(self.bufs.read, d, start + t, start + t, timeout, self.poll_s,
                                           f"real-time step {t}", stash)  # fmt: skip
                yield np.asarray(list(got[start + t].output_spikes)[:n_out], np.int64)
                t += 1
        finally:
            with contextlib.suppress(Exception):
                self._configure(record=False)
                self._reset_state()

    # --- clock and power ----------------------------------------------------------------------------
    def set_clock(self, hz: float) -> float:
        """Set the core clock (nearest divider of 100 MHz); returns the clock obtained in Hz."""
        if not hz > 0:
            raise ConfigError(f"clock frequency must be > 0 Hz, got {hz}")
        ratio = round(CLOCK_BASE_HZ / hz) / 2 - 1
        wait = max(int(math.ceil(ratio) if self.dialect.clock != "io_config" else int(ratio)), 0)
        actual = CLOCK_BASE_HZ / (2 * (wait + 1))
        with self._guard("setting the core clock"):
            if self.dialect.clock == "io_config":
                self.hdk.get_io_module().write_config(A2_CLOCK_REGISTER, wait)
            elif self.dialect.clock == "io_rate":
                self.hdk.get_io_module().set_main_clk_rate(int(actual))
            self.clock_hz = actual
            if self.dialect.clock == "board_config":
                self._soft_reset()
                if self._config is not None:
                    self._apply(self._config)
        return actual

    def power_start(self, frequency_hz: float | None = None) -> None:
        """Start the board's automatic power sampling (default rate: the chip's)."""
        with self._guard("starting power measurement"):
            pm = self.hdk.get_power_monitor()
            if self._power_sink is None:
                if self.dialect.state_from_sink:
                    self._power_sink = self.samna.BasicSinkNode_unifirm_modules_events_measurement()
                    g = self.samna.graph.EventFilterGraph()
                    g.sequential([pm.get_source_node(), self._power_sink])
                    self.bufs.graphs.append(g)
                else:
                    self._power_sink = self.samna.graph.sink_from(pm.get_source_node())
            if hasattr(self.hdk, "get_stop_watch"):
                self.hdk.get_stop_watch().start()
            pm.start_auto_power_measurement(float(frequency_hz or self.chip.default_power_hz))
            self._power_sink.get_events()

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
            self.hdk.get_power_monitor().stop_auto_power_measurement()

    def close(self) -> None:
        """Leave the board idle and close it."""
        self._safe_state()
        with contextlib.suppress(Exception):
            self.samna.device.close_device(self.hdk)


NO_BOARD_HINT = (
    "connect the HDK by USB, check `lsusb`, install SynSense's udev rules (or run with permission to "
    "the USB device), then `xylodeploy doctor`"
)


@dataclass(frozen=True)
class BoardReport:
    """What `board_report` found: samna's state and every board with its firmware."""

    samna_state: str  # "real" | "stub" | "missing" | "injected"
    samna_version: str | None
    rows: list[dict[str, str]]  # {"board", "chip", "detail"} per board
    note: str  # one line: what was found, or what to do when nothing was


def board_report(samna: Any = None) -> BoardReport:
    """Samna state and attached boards (serial, chip, firmware vs minimum) for ``xylodeploy doctor``."""
    from xylodeploy.backends.samna_detect import INSTALL_HINT, samna_status

    if samna is None:
        status = samna_status()
        if status.state != "real":
            return BoardReport(
                status.state, status.version, [], f"board discovery needs the real samna: {INSTALL_HINT}"
            )
        samna = _load_samna(None)
        state, version = "real", status.version
    else:
        state, version = "injected", str(getattr(samna, "__version__", "?"))
    try:
        boards = find_boards(samna)
    except DeviceError as exc:
        return BoardReport(state, version, [], str(exc))
    rows = []
    for b in boards:
        try:
            hdk = samna.device.open_device(b.handle)
            fw = _firmware(hdk.get_firmware_versions()) if hasattr(hdk, "get_firmware_versions") else {}
            with contextlib.suppress(Exception):
                samna.device.close_device(hdk)
        except (RuntimeError, OSError) as exc:
            rows.append({"board": b.serial, "chip": b.chip.name, "detail": f"cannot open: {exc}"})
            continue
        old = firmware_problems(b.chip, fw)
        fw_text = ", ".join(f"{k} {v}" for k, v in sorted(fw.items())) or "firmware unknown"
        detail = fw_text + ("; FIRMWARE TOO OLD: " + "; ".join(old) if old else "; firmware ok")
        rows.append({"board": b.serial, "chip": b.chip.name, "detail": detail})
    note = f"{len(rows)} Xylo board(s) seen" if rows else f"no Xylo board seen: {NO_BOARD_HINT}"
    return BoardReport(state, version, rows, note)
