"""A stand-in for SynSense's samna with the API surface xylodeploy's board driver uses.

Build one with `make_samna` and pass it to ``SamnaBackend(samna=...)``. It is a test fixture, not
part of the package: it executes on xylodeploy's reference simulator (see ``board.py``) and has
fault injection through ``board.faults``.

    samna = make_samna(["xylo-imu"])
    board = samna.boards[0]          # the open-able HDK, for fault injection and inspection
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from xylodeploy.chips import get_chip

from . import board as _board
from .config import InputSource, OperationMode, _cls, make_configuration_module, validate
from .events import (
    Measurement,
    MeasurementChannelsA2,
    MeasurementChannelsA3,
    MeasurementChannelsImu,
    make_event_module,
)
from .hdk import HDK_CLASSES

__version__ = "0.0.0-fake"

_CHANNELS = {"xyloCore2": MeasurementChannelsA2, "xyloImu": MeasurementChannelsImu, "xyloAudio3": MeasurementChannelsA3}


@dataclass
class DeviceInfo:
    device_type_name: str
    serial_number: str
    usb_bus_number: int
    usb_device_address: int


class _Graph:
    def __init__(self) -> None:
        self.running = False

    def sequential(self, nodes: list) -> list:
        for a, b in zip(nodes, nodes[1:], strict=False):
            _board.connect(a, b)
        return nodes

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def _sink_from(node: Any) -> _board.BasicSinkNode:
    sink = _board.BasicSinkNode()
    _board.connect(node, sink)
    return sink


def _source_to(node: Any) -> _board.BasicSourceNode:
    src = _board.BasicSourceNode()
    _board.connect(src, node)
    return src


def _namespace(ns_name: str, synapse2: bool) -> Any:
    chip = next(
        get_chip(c) for c in ("xylo-audio2", "xylo-imu", "xylo-audio3") if get_chip(c).samna_namespace == ns_name
    )
    ns = SimpleNamespace(
        configuration=make_configuration_module(ns_name, synapse2),
        event=make_event_module(ns_name, synapse2),
        OperationMode=OperationMode,
        validate_configuration=None,
    )
    ns.validate_configuration = lambda config, _chip=chip, _ns=ns: _validate(config, _chip, _ns)
    ns.rejections = []
    if ns_name == "xyloCore2":
        ns.NeuronStateSinkNode = _board.NeuronStateSinkNode
    if ns_name == "xyloAudio3":
        ns.InputSource = InputSource
        ns.MeasurementChannels = MeasurementChannelsA3
        ns.XyloAudio3TestBoardDefaultConfig = _cls(
            "XyloAudio3TestBoardDefaultConfig",
            {"main_clock_frequency": ("int", 50_000_000), "pdm_clock_frequency": ("int", 1_562_500)},
        )
    return ns


def _validate(config: Any, chip: Any, ns: Any) -> tuple[bool, str]:
    if type(config).__name__ != "XyloConfiguration":
        raise TypeError("validate_configuration(): incompatible function arguments")
    if ns.rejections:
        return False, ns.rejections[0]
    return validate(config, chip)


def make_samna(
    chips: list[str] | tuple[str, ...] = ("xylo-audio2",), firmware: dict | None = None, a3_synapse2: bool = True
) -> Any:
    """A samna-like module object with one board per entry of ``chips``.

    ``samna.boards`` lists the `Board` objects (for fault injection); ``samna.reject(chip_ns, msg)``
    makes that namespace's validate_configuration fail with ``msg``. ``a3_synapse2=False`` models a
    samna build whose Xylo Audio 3 configuration has no second synapse.
    """
    samna = SimpleNamespace(__version__=__version__, __name__="samna")
    for ns_name in ("xyloCore2", "xyloImu", "xyloAudio3"):
        setattr(samna, ns_name, _namespace(ns_name, a3_synapse2))
    samna.xyloA2TestBoard = SimpleNamespace(MeasurementChannels=MeasurementChannelsA2)
    samna.xyloImuBoards = SimpleNamespace(MeasurementChannels=MeasurementChannelsImu)
    samna.graph = SimpleNamespace(EventFilterGraph=_Graph, sink_from=_sink_from, source_to=_source_to)
    samna.BasicSinkNode_xylo_core2_event_output_event = _board.BasicSinkNode
    samna.BasicSourceNode_xylo_core2_event_input_event = _board.BasicSourceNode
    samna.BasicSinkNode_unifirm_modules_events_measurement = _board.BasicSinkNode
    samna.boards, infos = [], []
    for i, name in enumerate(chips):
        chip = get_chip(name)
        fw = dict(chip.min_firmware) if firmware is None else dict(firmware)
        ns = getattr(samna, chip.samna_namespace)
        cls = HDK_CLASSES[chip.samna_namespace]
        samna.boards.append(cls(chip, ns, list(_CHANNELS[chip.samna_namespace]), Measurement, fw))
        infos.append(DeviceInfo(chip.device_type_name, f"FAKE{i:04d}", 1, 10 + i))
    opened: dict[str, Any] = {}

    def open_device(info: DeviceInfo) -> Any:
        board = samna.boards[infos.index(info)]
        board.check("open_device")
        opened[info.serial_number] = board
        return board

    samna.device = SimpleNamespace(
        get_all_devices=lambda: [i for i, b in zip(infos, samna.boards, strict=False) if not b.faults.disconnected],
        get_unopened_devices=lambda: [i for i in infos if i.serial_number not in opened],
        open_device=open_device,
        close_device=lambda dev: None,
    )
    samna.reject = lambda ns_name, msg: getattr(samna, ns_name).rejections.append(msg)
    return samna


__all__ = ["DeviceInfo", "make_samna"]
