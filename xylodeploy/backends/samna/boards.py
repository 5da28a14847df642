"""Xylo boards seen by samna: discovery, firmware checks and the report ``xylodeploy doctor`` prints.

samna is imported only through `xylodeploy.backends.samna.detect` (never the PyPI stub), or injected.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from xylodeploy.chips import ChipSpec, available_chips, get_chip
from xylodeploy.errors import DeviceError


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
    """Firmware components older than the chip's minimum (``ChipSpec.min_firmware``)."""
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
    except Exception as exc:  # noqa: BLE001 - samna's bindings raise any type
        raise DeviceError(f"samna could not list USB devices ({type(exc).__name__}: {exc})") from exc
    for info in devices:
        c = _chip_of(str(getattr(info, "device_type_name", "")))
        if c is not None and (want is None or c.name == want.name):
            found.append(BoardInfo(c, str(getattr(info, "serial_number", "?")), handle=info))
    return found


def _load_samna(samna: Any) -> Any:
    if samna is not None:
        return samna
    from xylodeploy.backends.samna.detect import import_real_samna

    return import_real_samna("running networks on a Xylo board")


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
    from xylodeploy.backends.samna.detect import INSTALL_HINT, samna_status

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
        except Exception as exc:  # noqa: BLE001 - samna's bindings raise any type
            rows.append({"board": b.serial, "chip": b.chip.name, "detail": f"cannot open: {exc}"})
            continue
        old = firmware_problems(b.chip, fw)
        fw_text = ", ".join(f"{k} {v}" for k, v in sorted(fw.items())) or "firmware unknown"
        detail = fw_text + ("; FIRMWARE TOO OLD: " + "; ".join(old) if old else "; firmware ok")
        rows.append({"board": b.serial, "chip": b.chip.name, "detail": detail})
    note = f"{len(rows)} Xylo board(s) seen" if rows else f"no Xylo board seen: {NO_BOARD_HINT}"
    return BoardReport(state, version, rows, note)
