"""Event classes of the stand-in, per namespace, with only the fields SynSense's code uses.

A2 events carry ``timestamp`` and its ``Readout`` carries nothing else (A2 states come through the
``NeuronStateSinkNode``); IMU/A3 events carry ``timestep``; only A3's ``Readout`` has ``neuron_i_syn2s``.
"""

from __future__ import annotations

import enum
from typing import Any

from .config import Strict, _cls


def make_event_module(ns: str, synapse2: bool = True) -> Any:
    """The ``<ns>.event`` module of one namespace."""
    t = "timestamp" if ns == "xyloCore2" else "timestep"
    states = ("output_spikes", "output_v_mems", "hidden_spikes", "neuron_v_mems", "neuron_i_syns")
    readout: dict = {t: ("int", 0)}
    if ns != "xyloCore2":
        readout.update({k: ("ids", []) for k in states})
        if ns == "xyloAudio3" and synapse2:
            readout["neuron_i_syn2s"] = ("ids", [])
    classes: dict[str, dict] = {
        "Spike": {"neuron_id": ("int", 0), t: ("int", 0)},
        "TriggerProcessing": {} if ns == "xyloCore2" else {"target_timestep": ("opt_int", None)},
        "TriggerReadout": {},
        "Readout": readout,
        "WriteRegisterValue": {"address": ("int", 0), "data": ("int", 0)},
        "ReadRegisterValue": {"address": ("int", 0)},
        "RegisterValue": {"address": ("int", 0), "data": ("int", 0)},
    }
    if ns == "xyloCore2":
        classes.update({"ReadVersion": {}, "Version": {"major": ("int", 0), "minor": ("int", 0)}})
    mod = type("EventModule", (), {})()
    for name, fields in classes.items():
        setattr(mod, name, _cls(name, fields))
    return mod


class StateFrame:
    """Internal A2 event: one step's monitored states, consumed by the NeuronStateSinkNode (not in samna)."""

    def __init__(self, **values: list) -> None:
        self.values = values


class MeasurementChannelsA2(enum.IntEnum):
    Io = 0
    Logic = 1
    LogicAfe = 2
    IoAfe = 3


class MeasurementChannelsImu(enum.IntEnum):
    Io = 0
    Core = 1


class MeasurementChannelsA3(enum.IntEnum):
    Io = 0
    AnalogLogic = 1
    DigitalLogic = 2


class Measurement(Strict):
    _fields = {"channel": ("int", 0), "value": (float, 0.0), "timestamp": ("int", 0)}
