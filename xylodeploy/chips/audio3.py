"""Xylo Audio 3 (SYNS65302)."""

from xylodeploy.chips import _common as c
from xylodeploy.chips.spec import ChipSpec, Projection

XYLO_AUDIO3 = ChipSpec(
    name="xylo-audio3",
    part_number="SYNS65302",
    title="Xylo Audio 3",
    aliases=("syns65302", "audio3", "xylo-a3", "va3"),
    max_inputs=c.MAX_INPUTS,
    max_hidden=992,
    max_readout=32,
    max_synapses=2,
    input_projection=Projection(count=128, position="first"),
    output_projection=Projection(count=128, position="last"),
    max_fanout=1024,
    max_recurrent_slots=31744,
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
    samna_namespace="xyloAudio3",
    device_type_name="XyloAudio3TestBoard",
    min_firmware={"fxtree": "0.12.2", "unifirm": "1.6.0"},
    power_rails={"Io": "io", "AnalogLogic": "analog", "DigitalLogic": "digital"},
    default_power_hz=100.0,
)
