"""Configuration classes and ``validate_configuration`` of the stand-in, one set per chip namespace.

Only the attributes SynSense's own device code uses on each chip exist (docs/samna-driver.md), and
they are typed like samna's pybind11 bindings: an unknown attribute raises AttributeError, a value of
the wrong type (a float for an int, an int for a bool, a list for a NeuronRange) raises TypeError.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec


class OperationMode(enum.IntEnum):
    Manual = 0
    AcceleratedTime = 1
    RealTime = 2
    Recording = 3  # A3 only in SynSense's code; harmless elsewhere


class InputSource(enum.IntEnum):
    SpikeEvents = 0
    DigitalMicrophone = 2
    PdmEvents = 4


class NeuronRange:
    """``NeuronRange(start, stop)``: neurons start..stop-1 (A2 and IMU monitors)."""

    def __init__(self, start: int = 0, stop: int = 0) -> None:
        _check("int", start, "NeuronRange.start")
        _check("int", stop, "NeuronRange.stop")
        self.start, self.stop = int(start), int(stop)

    def ids(self) -> list[int]:
        return list(range(self.start, self.stop))


def _incompatible(what: str, value: Any) -> TypeError:
    return TypeError(f"{what}: incompatible function arguments; invoked with: {type(value).__name__} {value!r:.60}")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check(kind: Any, value: Any, what: str) -> Any:  # noqa: C901 - one branch per field kind
    """Convert ``value`` like pybind11 would for a field of ``kind``, or raise TypeError."""
    if kind == "int":
        if not _is_int(value):
            raise _incompatible(what, value)
        return int(value)
    if kind == "opt_int":
        return None if value is None else _check("int", value, what)
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise _incompatible(what, value)
        return bool(value)
    if kind == "matrix":
        arr = np.asarray(value, dtype=object)
        if arr.size and (arr.ndim != 2 or not all(_is_int(v) for v in arr.ravel())):
            raise _incompatible(what, value)
        return [[int(v) for v in row] for row in arr] if arr.size else []
    if kind == "range":
        if value is not None and not isinstance(value, NeuronRange):
            raise _incompatible(what, value)
        return value
    if kind == "ids":
        if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
            raise _incompatible(what, value)
        return [int(v) for v in value]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        if not isinstance(value, kind):
            raise _incompatible(what, value)
        return value
    if isinstance(kind, tuple) and kind[0] == "list_of":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, kind[1]) for v in value):
            raise _incompatible(what, value)
        return [copy.deepcopy(v) for v in value]
    if isinstance(kind, type):  # a nested configuration object
        if not isinstance(value, kind):
            raise _incompatible(what, value)
        return copy.deepcopy(value)
    raise AssertionError(kind)


class Strict:
    """Attribute bag with typed fields ``_fields = {name: (kind, default)}``; nothing else can be set."""

    _fields: dict[str, tuple[Any, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        for name, (kind, default) in self._fields.items():
            value = kind() if isinstance(kind, type) and issubclass(kind, Strict) else copy.deepcopy(default)
            object.__setattr__(self, name, value)
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        object.__setattr__(self, name, _check(self._fields[name][0], value, f"{type(self).__name__}.{name}"))


def _cls(name: str, fields: dict[str, tuple[Any, Any]]) -> type:
    return type(name, (Strict,), {"_fields": fields})


# samna's xyloImu InputInterfaceConfig as SynSense's IMU interface code writes it (docs/imu-frontend.md)
IMU_INTERFACE_FIELDS: dict[str, tuple[Any, Any]] = {
    "configuration_timeout": ("int", 0), "enable": ("bool", False), "select_iaf_output": ("bool", False),
    "bypass_jsvd": ("bool", False), "estimator_k_setting": ("int", 0), "update_matrix_threshold": ("int", 0),
    **{k: ("ids", []) for k in ("bpf_bb_values", "bpf_bwf_values", "bpf_baf_values", "bpf_a1_values",
                                "bpf_a2_values", "scale_values", "iaf_threshold_values")},
}  # fmt: skip


def make_configuration_module(ns: str, synapse2: bool = True) -> Any:  # noqa: C901 - one table per chip
    """The ``<ns>.configuration`` module: XyloConfiguration, neuron classes (NeuronRange on A2/IMU).

    ``synapse2=False`` models a samna build whose A3 configuration lacks the second synapse.
    """
    two = ns == "xyloCore2" or (ns == "xyloAudio3" and synapse2)
    neuron = {k: ("int", 0) for k in ("i_syn_decay", "v_mem_decay", "threshold", "v_mem_bias")}
    hidden_fields = {"alias_target": ("opt_int", None), **neuron, **({"i_syn2_decay": ("int", 0)} if two else {})}
    hidden_cls = _cls("ReservoirNeuron" if ns == "xyloCore2" else "HiddenNeuron", hidden_fields)
    output_cls = _cls("OutputNeuron", neuron)
    weights = {"weights": ("matrix", []), "weight_bit_shift": ("int", 0)}
    syn2 = {"syn2_weights": ("matrix", [])} if two else {}
    input_cls = _cls("InputConfig", {**weights, **syn2})
    hidden_grp = _cls(
        "HiddenConfig", {**weights, **syn2, "aliasing": ("bool", False), "neurons": (("list_of", hidden_cls), [])}
    )
    readout_cls = _cls("ReadoutConfig", {**weights, "neurons": (("list_of", output_cls), [])})
    mon = "range" if ns != "xyloAudio3" else "ids"
    monitors = {f"monitor_neuron_{k}": (mon, None if mon == "range" else []) for k in ("i_syn", "spike", "v_mem")}
    if two:
        monitors["monitor_neuron_i_syn2"] = (mon, None if mon == "range" else [])
    debug: dict[str, tuple[Any, Any]] = {**monitors, "always_update_omp_stat": ("bool", False)}
    if ns in ("xyloCore2", "xyloImu"):
        clocks = ["isyn_clock_enable", "ra_clock_enable", "bias_clock_enable", "hm_clock_enable", "ram_power_enable"]
        debug.update({k: ("bool", False) for k in clocks + (["isyn2_clock_enable"] if ns == "xyloCore2" else [])})
    if ns == "xyloImu":
        debug.update({"imu_if_clk_enable": ("bool", False), "imu_if_clock_freq_div": ("int", 0)})
    if ns == "xyloAudio3":
        debug.update({"ram_access_enable": ("bool", False), "sdm_clock_ratio": ("int", 0)})
    top: dict[str, tuple[Any, Any]] = {
        "input": (input_cls, None),
        "reservoir" if ns == "xyloCore2" else "hidden": (hidden_grp, None),
        "readout": (readout_cls, None),
        "debug": (_cls("DebugConfig", debug), None),
        "bias_enable": ("bool", False),
        "operation_mode": (OperationMode, OperationMode.Manual),
        "enable_hibernation_mode": ("bool", False),
    }
    if two:
        top["synapse2_enable"] = ("bool", False)
    if ns == "xyloCore2":
        top["clear_network_state"] = ("bool", False)
    else:
        top["time_resolution_wrap"] = ("int", 0)
    if ns == "xyloImu":
        top["imu_if_input_enable"] = ("bool", True)
        top["input_interface"] = (_cls("InputInterfaceConfig", IMU_INTERFACE_FIELDS), None)
    if ns == "xyloAudio3":
        top["input_source"] = (InputSource, InputSource.DigitalMicrophone)
        fb = _cls("FilterBankConfig", {"dn_enable": ("bool", False), "use_global_iaf_threshold": ("bool", False)})
        pdm = _cls("PdmPreprocessingConfig", {"clock_direction": ("int", 0), "clock_edge": ("int", 0)})
        top["digital_frontend"] = (
            _cls("DigitalFrontendConfig", {"filter_bank": (fb, None), "pdm_preprocessing": (pdm, None)}),
            None,
        )
    mod = type("ConfigurationModule", (), {})()
    mod.XyloConfiguration, mod.OutputNeuron = _cls("XyloConfiguration", top), output_cls
    if ns != "xyloAudio3":
        mod.NeuronRange = NeuronRange
    setattr(mod, hidden_cls.__name__, hidden_cls)
    return mod


def _shape(value: Any) -> tuple[int, int] | None:
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 2:
        return None if arr.size else (0, 0)
    return arr.shape


def validate(config: Any, chip: ChipSpec) -> tuple[bool, str]:
    """Checks modelled on samna's: sizes, value ranges, fan-out, alias targets."""
    problems = list(_problems(config, chip))
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
