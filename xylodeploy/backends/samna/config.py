"""XyloSpec <-> samna ``XyloConfiguration`` for each chip, and the per-chip samna dialect.

The attribute names per namespace (``samna.xyloCore2`` for Xylo Audio 2, ``samna.xyloImu``,
``samna.xyloAudio3``) and their sources in SynSense's code are listed in docs/samna-driver.md. Unlike
rockpool we write every neuron's ``v_mem_bias`` (zero included), enable aliasing only when some neuron
has an alias, and never cast with wrap-around: values go to samna as Python ints and samna's own
``validate_configuration`` judges them. Synapse-2 attributes are written only where this samna has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """How one chip's samna namespace spells the things the driver uses (sources: docs/samna-driver.md)."""

    hidden_group: str  # config attribute of the hidden layer ("reservoir" on A2)
    hidden_neuron_cls: str  # class in <ns>.configuration for hidden neurons
    time_attr: str  # event field carrying the time step ("timestamp" on A2)
    monitor_ranges: bool  # debug.monitor_* take NeuronRange / None (A2, IMU) or plain id lists (A3)
    state_from_sink: bool  # A2 reads states from a NeuronStateSinkNode; IMU/A3 from Readout events
    start_offset: int  # first input step = Readout.<time_attr> after TriggerReadout + offset
    power_namespace: str  # samna namespace of MeasurementChannels
    clock: str  # how the core clock is set: "io_config" (A2), "io_rate" (IMU), "board_config" (A3)
    model_accessor: str  # HDK method returning the SNN-core model ("get_xylo_model" on A2)
    readout_wait_s: float  # how long SynSense waits for the answer to TriggerReadout
    vmem_monitor_outputs: bool  # debug.monitor_neuron_v_mem also covers the readout neurons (A2, IMU)
    input_registers: tuple[int, ...] = ()  # A2: registers cleared after the end-of-clip dummy spike


# Register addresses and clock rules are board-interface facts read from SynSense's device code
# (docs/samna-driver.md); they describe samna's dialect, not SNN-core limits, so they live here.
DIALECTS: dict[str, Dialect] = {
    "xyloCore2": Dialect(
        hidden_group="reservoir", hidden_neuron_cls="ReservoirNeuron", time_attr="timestamp",
        monitor_ranges=True, state_from_sink=True, start_offset=0, power_namespace="xyloA2TestBoard",
        clock="io_config", model_accessor="get_xylo_model", readout_wait_s=3.0, vmem_monitor_outputs=True,
        input_registers=(0x11, 0x12, 0x13, 0x14),
    ),
    "xyloImu": Dialect(
        hidden_group="hidden", hidden_neuron_cls="HiddenNeuron", time_attr="timestep",
        monitor_ranges=True, state_from_sink=False, start_offset=1, power_namespace="xyloImuBoards",
        clock="io_rate", model_accessor="get_model", readout_wait_s=3.0, vmem_monitor_outputs=True,
    ),
    "xyloAudio3": Dialect(
        hidden_group="hidden", hidden_neuron_cls="HiddenNeuron", time_attr="timestep",
        monitor_ranges=False, state_from_sink=False, start_offset=0, power_namespace="xyloAudio3",
        clock="board_config", model_accessor="get_model", readout_wait_s=5.0, vmem_monitor_outputs=False,
    ),
}  # fmt: skip
CLOCK_BASE_HZ = 100e6  # HDK clock divider base: f = 100 MHz / (2 (wait + 1)) (docs/samna-driver.md §7)
A2_CLOCK_REGISTER = 0x0021  # IO-module config word holding the low 16 bits of the A2 wait period


def dialect(chip: ChipSpec) -> Dialect:
    """The samna dialect of ``chip`` (looked up by its samna namespace)."""
    return DIALECTS[chip.samna_namespace]


def namespace(samna: ModuleType | Any, chip: ChipSpec) -> Any:
    """``samna.<chip.samna_namespace>``; ConfigError if this samna lacks it."""
    ns = getattr(samna, chip.samna_namespace, None)
    if ns is None:
        raise ConfigError(f"this samna has no namespace '{chip.samna_namespace}' needed for {chip.title}")
    return ns


def _ien_oen(spec: XyloSpec, chip: ChipSpec) -> tuple[range, range]:
    return chip.input_projection.allowed(spec.n_hidden), chip.output_projection.allowed(spec.n_hidden)


def _check_layout(spec: XyloSpec, chip: ChipSpec) -> None:
    """Refuse weights the chip's IEN/OEN layout cannot hold (they would be dropped silently)."""
    if spec.n_synapses > chip.max_synapses:
        raise ConfigError(
            f"spec uses {spec.n_synapses} synapses per hidden neuron > {chip.name} max_synapses {chip.max_synapses}"
        )
    ien, oen = _ien_oen(spec, chip)
    outside_in = np.ones(spec.n_hidden, bool)
    outside_in[list(ien)] = False
    if np.any(spec.weights_in[:, outside_in, :] != 0):
        h = int(np.flatnonzero(np.any(spec.weights_in[:, outside_in, :] != 0, axis=(0, 2)))[0])
        raise ConfigError(
            f"weights_in: hidden neuron {np.flatnonzero(outside_in)[h]} receives input but {chip.name} "
            f"only has input weights for hidden neurons {ien.start}..{ien.stop - 1}"
        )
    outside_out = np.ones(spec.n_hidden, bool)
    outside_out[list(oen)] = False
    if np.any(spec.weights_out[outside_out] != 0):
        h = int(np.flatnonzero(np.any(spec.weights_out[outside_out] != 0, axis=1))[0])
        raise ConfigError(
            f"weights_out: hidden neuron {np.flatnonzero(outside_out)[h]} drives the readout but {chip.name} "
            f"only has readout weights for hidden neurons {oen.start}..{oen.stop - 1}"
        )
    if any(len(a) > chip.max_alias_targets for a in spec.aliases):
        raise ConfigError(f"aliases: more than {chip.max_alias_targets} alias target per neuron on {chip.name}")


def _ints(arr: np.ndarray) -> list:
    return np.asarray(arr, dtype=np.int64).tolist()


def spec_to_config(spec: XyloSpec, samna: Any, chip: ChipSpec | None = None) -> Any:
    """Build the chip's samna ``XyloConfiguration`` holding every parameter of ``spec``.

    Not validated here: call samna's ``validate_configuration`` on the result (the driver does).
    """
    chip = get_chip(spec.chip if chip is None else chip)
    _check_layout(spec, chip)
    d, ns = dialect(chip), namespace(samna, chip)
    cfgmod = ns.configuration
    ien, oen = _ien_oen(spec, chip)
    config = cfgmod.XyloConfiguration()
    hidden = getattr(config, d.hidden_group)
    two = spec.uses_synapse2

    config.bias_enable = spec.has_bias
    if chip.samna_namespace == "xyloCore2":
        dbg = config.debug
        dbg.isyn_clock_enable, dbg.ra_clock_enable, dbg.hm_clock_enable = True, True, True
        dbg.ram_power_enable = True
        dbg.isyn2_clock_enable = two
        dbg.bias_clock_enable = spec.has_bias
    if chip.samna_namespace == "xyloImu":
        config.imu_if_input_enable = False
        dbg = config.debug
        dbg.always_update_omp_stat = True
        dbg.isyn_clock_enable, dbg.ra_clock_enable, dbg.bias_clock_enable = True, True, True
        dbg.hm_clock_enable, dbg.ram_power_enable = True, True
    if chip.samna_namespace == "xyloAudio3":
        config.input_source = ns.InputSource.SpikeEvents
    if chip.two_synapses:
        _set_synapse2(config, "synapse2_enable", two, two, chip)
    hidden.aliasing = spec.has_aliases
    config.input.weight_bit_shift = spec.weight_shift_in
    hidden.weight_bit_shift = spec.weight_shift_rec
    config.readout.weight_bit_shift = spec.weight_shift_out
    config.input.weights = _ints(spec.weights_in[:, ien.start : ien.stop, 0])
    hidden.weights = _ints(spec.weights_rec[:, :, 0])
    config.readout.weights = _ints(spec.weights_out[oen.start : oen.stop])
    if two:
        _set_synapse2(config.input, "syn2_weights", _ints(spec.weights_in[:, ien.start : ien.stop, 1]), two, chip)
        _set_synapse2(hidden, "syn2_weights", _ints(spec.weights_rec[:, :, 1]), two, chip)
    hidden.neurons = [_hidden_neuron(spec, h, cfgmod, d, chip) for h in range(spec.n_hidden)]
    config.readout.neurons = [_output_neuron(spec, k, cfgmod) for k in range(spec.n_outputs)]
    return config


def _hidden_neuron(spec: XyloSpec, h: int, cfgmod: Any, d: Dialect, chip: ChipSpec) -> Any:
    n = getattr(cfgmod, d.hidden_neuron_cls)()
    if spec.aliases[h]:
        n.alias_target = int(spec.aliases[h][0])
    n.i_syn_decay = int(spec.dash_syn[h])
    if chip.two_synapses:
        _set_synapse2(n, "i_syn2_decay", int(spec.dash_syn_2[h]), spec.uses_synapse2, chip)
    n.v_mem_decay = int(spec.dash_mem[h])
    n.threshold = int(spec.threshold[h])
    n.v_mem_bias = int(spec.bias[h])
    return n


def has_attr(obj: Any, name: str) -> bool:
    """Whether a samna object has ``name`` (pybind properties may raise on read: that counts as present)."""
    try:
        getattr(obj, name)
    except AttributeError:
        return False
    except Exception:  # noqa: BLE001 - a property that exists but fails to read
        return True
    return True


def _set_synapse2(obj: Any, name: str, value: Any, needed: bool, chip: ChipSpec) -> None:
    """Write a synapse-2 attribute only where this samna build has it; refuse a spec that needs it otherwise."""
    if has_attr(obj, name):
        setattr(obj, name, value)
    elif needed:
        raise ConfigError(
            f"this samna's {chip.samna_namespace} {type(obj).__name__} has no '{name}': the spec uses the second "
            f"synapse, which this samna build cannot configure on {chip.title}"
        )


def _output_neuron(spec: XyloSpec, k: int, cfgmod: Any) -> Any:
    n = cfgmod.OutputNeuron()
    n.i_syn_decay = int(spec.dash_syn_out[k])
    n.v_mem_decay = int(spec.dash_mem_out[k])
    n.threshold = int(spec.threshold_out[k])
    n.v_mem_bias = int(spec.bias_out[k])
    return n


def _matrix(value: Any, shape: tuple[int, int], what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.size != shape[0] * shape[1]:
        raise ConfigError(f"samna configuration: {what} has {arr.size} entries, expected {shape[0]}x{shape[1]}")
    return arr.reshape(shape)


def config_to_spec(config: Any, chip: ChipSpec | str, n_inputs: int, dt: float = 1e-3) -> XyloSpec:
    """Read a samna ``XyloConfiguration`` back into a `XyloSpec` (inverse of `spec_to_config`).

    ``n_inputs`` is needed because samna stores input weights only for the IENs. On Xylo IMU,
    which has no second synapse, ``dash_syn_2`` comes back as zeros.
    """
    chip = get_chip(chip)
    d = dialect(chip)
    hidden = getattr(config, d.hidden_group)
    hn, on = list(hidden.neurons), list(config.readout.neurons)
    n_h, n_out = len(hn), len(on)
    ien, oen = chip.input_projection.allowed(n_h), chip.output_projection.allowed(n_h)
    two = bool(chip.two_synapses and getattr(config, "synapse2_enable", False))
    n_syn = 2 if two else 1
    has_syn2_decay = bool(chip.two_synapses and hn and has_attr(hn[0], "i_syn2_decay"))
    w_in = np.zeros((n_inputs, n_h, n_syn), np.int64)
    w_rec = np.zeros((n_h, n_h, n_syn), np.int64)
    w_out = np.zeros((n_h, n_out), np.int64)
    w_in[:, ien.start : ien.stop, 0] = _matrix(config.input.weights, (n_inputs, len(ien)), "input.weights")
    w_rec[:, :, 0] = _matrix(hidden.weights, (n_h, n_h), f"{d.hidden_group}.weights")
    w_out[oen.start : oen.stop] = _matrix(config.readout.weights, (len(oen), n_out), "readout.weights")
    if two:
        w_in[:, ien.start : ien.stop, 1] = _matrix(
            config.input.syn2_weights, (n_inputs, len(ien)), "input.syn2_weights"
        )
        w_rec[:, :, 1] = _matrix(hidden.syn2_weights, (n_h, n_h), f"{d.hidden_group}.syn2_weights")

    def col(neurons: list, attr: str) -> np.ndarray:
        return np.array([int(getattr(n, attr)) for n in neurons], np.int64)

    return XyloSpec(
        chip=chip.name,
        weights_in=w_in,
        weights_rec=w_rec,
        weights_out=w_out,
        dash_mem=col(hn, "v_mem_decay"),
        dash_syn=col(hn, "i_syn_decay"),
        dash_syn_2=col(hn, "i_syn2_decay") if has_syn2_decay else np.zeros(n_h, np.int64),
        dash_mem_out=col(on, "v_mem_decay"),
        dash_syn_out=col(on, "i_syn_decay"),
        threshold=col(hn, "threshold"),
        threshold_out=col(on, "threshold"),
        bias=col(hn, "v_mem_bias") if config.bias_enable else np.zeros(n_h, np.int64),
        bias_out=col(on, "v_mem_bias") if config.bias_enable else np.zeros(n_out, np.int64),
        weight_shift_in=int(config.input.weight_bit_shift),
        weight_shift_rec=int(hidden.weight_bit_shift),
        weight_shift_out=int(config.readout.weight_bit_shift),
        aliases=[() if n.alias_target is None else (int(n.alias_target),) for n in hn] if hidden.aliasing else None,
        dt=dt,
    )
