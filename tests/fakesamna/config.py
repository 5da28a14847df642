"""Configuration classes and ``validate_configuration`` of the stand-in, one set per chip namespace.

Attribute names follow docs/chip-facts.md (board interface). Objects are strict: setting an attribute the
real class does not have raises AttributeError, so a misspelt name in the driver fails loudly.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec


class Strict:
    """Attribute bag that only accepts the names in ``_fields`` (their defaults)."""

    _fields: dict[str, Any] = {}

    def __init__(self, **kwargs: Any) -> None:
        for name, default in self._fields.items():
            object.__setattr__(self, name, copy.deepcopy(default))
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")
        object.__setattr__(self, name, value)


class OperationMode(enum.IntEnum):
    Manual = 0
    AcceleratedTime = 1
    RealTime = 2


class InputSource(enum.IntEnum):
    SpikeEvents = 0
    AnalogMicrophone = 1
    DigitalMicrophone = 2
    AdcEvents = 3
    PdmEvents = 4


class NeuronRange:
    def __init__(self, start: int = 0, stop: int = 0) -> None:
        self.start, self.stop = int(start), int(stop)

    def ids(self) -> list[int]:
        return list(range(self.start, self.stop))


def make_configuration_module(ns: str) -> Any:
    """The ``<ns>.configuration`` module: XyloConfiguration, neuron classes, NeuronRange."""
    two = ns != "xyloImu"
    neuron = {"alias_target": None, "i_syn_decay": 0, "v_mem_decay": 0, "threshold": 0, "v_mem_bias": 0}
    if two:
        neuron["i_syn2_decay"] = 0
    hidden_cls = type("ReservoirNeuron" if ns == "xyloCore2" else "HiddenNeuron", (Strict,), {"_fields": neuron})
    out_fields = {k: v for k, v in neuron.items() if k not in ("alias_target", "i_syn2_decay")}
    output_cls = type("OutputNeuron", (Strict,), {"_fields": out_fields})
    weights = {"weights": [], "weight_bit_shift": 0}
    syn2 = {"syn2_weights": []} if two else {}
    input_cls = type("InputConfig", (Strict,), {"_fields": {**weights, **syn2}})
    hidden_grp = type("HiddenConfig", (Strict,), {"_fields": {**weights, **syn2, "aliasing": False, "neurons": []}})
    readout_cls = type("ReadoutConfig", (Strict,), {"_fields": {**weights, "neurons": []}})
    monitor_default: Any = None if ns != "xyloAudio3" else []
    debug = {f"monitor_neuron_{k}": monitor_default for k in ("i_syn", "i_syn2", "spike", "v_mem")}
    debug["always_update_omp_stat"] = False
    if ns == "xyloCore2":
        debug.update({k: False for k in ("isyn_clock_enable", "isyn2_clock_enable", "ra_clock_enable")})
        debug.update({k: False for k in ("bias_clock_enable", "hm_clock_enable", "ram_power_enable")})
    if ns == "xyloImu":
        debug.update({k: False for k in ("isyn_clock_enable", "ra_clock_enable", "bias_clock_enable")})
        debug.update({"hm_clock_enable": False, "ram_power_enable": False})
    if ns == "xyloAudio3":
        debug.update({"ram_access_enable": False, "debug_status_update_enable": False, "sdm_clock_ratio": 0})
    debug_cls = type("DebugConfig", (Strict,), {"_fields": debug})
    hidden_name = "reservoir" if ns == "xyloCore2" else "hidden"
    top: dict[str, Any] = {
        "input": None,
        hidden_name: None,
        "readout": None,
        "debug": None,
        "bias_enable": False,
        "operation_mode": OperationMode.Manual,
        "time_resolution_wrap": 0,
        "enable_hibernation_mode": False,
    }
    if two:
        top["synapse2_enable"] = False
    if ns == "xyloCore2":
        top["clear_network_state"] = False
    if ns == "xyloImu":
        top["imu_if_input_enable"] = True
    if ns == "xyloAudio3":
        top["input_source"] = InputSource.AnalogMicrophone

    def init(self: Any) -> None:
        Strict.__init__(self)
        self.input, self.readout, self.debug = input_cls(), readout_cls(), debug_cls()
        setattr(self, hidden_name, hidden_grp())

    config_cls = type("XyloConfiguration", (Strict,), {"_fields": top, "__init__": init})
    mod = type("ConfigurationModule", (), {})()
    mod.XyloConfiguration, mod.OutputNeuron, mod.NeuronRange = config_cls, output_cls, NeuronRange
    setattr(mod, hidden_cls.__name__, hidden_cls)
    return mod


def _shape(value: Any) -> tuple[int, int] | None:
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 2:
        return None if arr.size else (0, 0)
    return arr.shape


def validate(config: Any, chip: ChipSpec) -> tuple[bool, str]:
    """Checks modelled on samna's: sizes, value ranges, fan-out, alias targets."""
    try:
        problems = list(_problems(config, chip))
    except (TypeError, ValueError) as exc:
        return False, f"malformed configuration: {exc}"
    return (not problems, "; ".join(problems[:5]))


def _problems(config: Any, chip: ChipSpec):  # noqa: C901 - a flat list of checks
    hidden = getattr(config, "reservoir", None) or config.hidden
    n_h, n_out = len(hidden.neurons), len(config.readout.neurons)
    if not 0 < n_h <= chip.max_hidden:
        yield f"number of hidden neurons {n_h} must be in 1..{chip.max_hidden}"
    if not 0 < n_out <= chip.max_readout:
        yield f"number of output neurons {n_out} must be in 1..{chip.max_readout}"
    n_ien = chip.input_projection.count or n_h
    n_oen = chip.output_projection.count or n_h
    shapes = {"input.weights": (config.input.weights, None, min(n_ien, n_h))}
    shapes["hidden.weights"] = (hidden.weights, n_h, n_h)
    shapes["readout.weights"] = (config.readout.weights, min(n_oen, n_h), n_out)
    if getattr(config, "synapse2_enable", False):
        shapes["input.syn2_weights"] = (config.input.syn2_weights, None, min(n_ien, n_h))
        shapes["hidden.syn2_weights"] = (hidden.syn2_weights, n_h, n_h)
    for name, (value, rows, cols) in shapes.items():
        shp = _shape(value)
        if shp is None or (rows is not None and shp[0] != rows) or shp[1] != cols:
            yield f"{name} has shape {shp}, expected ({rows if rows is not None else 'Nin'}, {cols})"
            continue
        arr = np.asarray(value, dtype=np.int64)
        if arr.size and (arr.min() < chip.weight_range.lo or arr.max() > chip.weight_range.hi):
            yield f"{name} value out of range [{chip.weight_range.lo}, {chip.weight_range.hi}]"
    if _shape(config.input.weights) and _shape(config.input.weights)[0] > chip.max_inputs:
        yield f"number of input channels exceeds {chip.max_inputs}"
    for grp, name in ((config.input, "input"), (hidden, "hidden"), (config.readout, "readout")):
        if int(grp.weight_bit_shift) not in chip.weight_shift_range:
            yield f"{name}.weight_bit_shift {grp.weight_bit_shift} out of range [0, {chip.weight_shift_range.hi}]"
    rec = np.asarray(hidden.weights, dtype=np.int64).reshape(n_h, -1) if n_h else np.zeros((0, 0))
    fanout = np.count_nonzero(rec, axis=1) if rec.size else np.zeros(0)
    if fanout.size and fanout.max() > chip.max_fanout:
        yield f"hidden neuron {int(fanout.argmax())} fan-out {int(fanout.max())} exceeds {chip.max_fanout}"
    if fanout.sum() > chip.max_recurrent_slots:
        yield f"total recurrent weights {int(fanout.sum())} exceed {chip.max_recurrent_slots}"
    for kind, neurons in (("hidden", hidden.neurons), ("output", config.readout.neurons)):
        for i, n in enumerate(neurons):
            for attr in ("i_syn_decay", "i_syn2_decay", "v_mem_decay"):
                if hasattr(n, attr) and int(getattr(n, attr)) not in chip.dash_range:
                    yield f"{kind} neuron {i}: {attr} {getattr(n, attr)} out of range [0, {chip.dash_range.hi}]"
            if int(n.threshold) not in chip.threshold_range:
                yield f"{kind} neuron {i}: threshold {n.threshold} out of range {chip.threshold_range}"
            if int(n.v_mem_bias) not in chip.state_range:
                yield f"{kind} neuron {i}: v_mem_bias {n.v_mem_bias} out of range {chip.state_range}"
            target = getattr(n, "alias_target", None)
            if target is not None and not 0 <= int(target) < n_h:
                yield f"hidden neuron {i}: alias_target {target} is not a hidden neuron"
