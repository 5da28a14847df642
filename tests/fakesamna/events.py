"""Event classes of the stand-in, per namespace (A2 events carry ``timestamp``, IMU/A3 ``timestep``)."""

from __future__ import annotations

import enum
from typing import Any

from .config import Strict


def make_event_module(ns: str) -> Any:
    """The ``<ns>.event`` module of one namespace."""
    t = "timestamp" if ns == "xyloCore2" else "timestep"
    readout = {t: 0, "output_spikes": [], "output_v_mems": [], "hidden_spikes": [], "neuron_v_mems": []}
    readout.update({"neuron_i_syns": [], "neuron_i_syn2s": []})
    classes = {
        "Spike": {"neuron_id": 0, t: 0},
        "TriggerProcessing": {"target_timestep": None},
        "TriggerReadout": {},
        "Readout": readout,
        "WriteRegisterValue": {"address": 0, "data": 0},
        "ReadRegisterValue": {"address": 0},
        "RegisterValue": {"address": 0, "data": 0},
        "ReadVersion": {},
        "Version": {"major": 0, "minor": 0},
    }
    mod = type("EventModule", (), {})()
    for name, fields in classes.items():
        setattr(mod, name, type(name, (Strict,), {"_fields": fields}))
    return mod


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
    _fields = {"channel": 0, "value": 0.0, "timestamp": 0}
