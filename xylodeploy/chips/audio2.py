"""Xylo Audio 2 (SYNS61201)."""

from xylodeploy.chips import _common as c
from xylodeploy.chips.spec import ChipSpec, Projection

XYLO_AUDIO2 = ChipSpec(
    name="xylo-audio2",
    part_number="SYNS61201",
    title="Xylo Audio 2",
    aliases=("syns61201", "audio2", "xylo-a2", "va2"),
    max_inputs=c.MAX_INPUTS,
    max_hidden=1000,
    max_readout=8,
    max_synapses=2,
    input_projection=Projection(count=None, position="first"),
    output_projection=Projection(count=None, position="last"),
    max_fanout=64,
    max_recurrent_slots=32000,
    max_alias_targets=c.MAX_ALIAS_TARGETS,
    max_input_events=c.MAX_INPUT_EVENTS,
    max_hidden_spikes=c.MAX_HIDDEN_SPIKES,
    max_output_spikes=c.MAX_OUTPUT_SPIKES,
    weight_range=c.WEIGHT_RANGE,
    weight_shift_range=c.WEIGHT_SHIFT_RANGE,
    threshold_range=c.THRESHOLD_RANGE,
    bias_range=c.BIAS_RANGE,
    dash_range=c.DASH_RANGE,
    state_range=c.STATE_RANGE,
    default_clock_hz=c.DEFAULT_CLOCK_HZ,
    samna_namespace="xyloCore2",
    device_type_name="XyloA2TestBoard",
    min_firmware={"fxtree": "0.11.5", "unifirm": "1.1.3"},
    power_rails={"Io": "io", "Logic": "snn_core", "LogicAfe": "afe_core", "IoAfe": "afe_ldo"},
    default_power_hz=5.0,
)
