"""Xylo IMU (SYNS63300)."""

from xylodeploy.chips import _common as c
from xylodeploy.chips.spec import ChipSpec, Projection

XYLO_IMU = ChipSpec(
    name="xylo-imu",
    part_number="SYNS63300",
    title="Xylo IMU",
    aliases=("syns63300", "imu"),
    max_inputs=c.MAX_INPUTS,
    max_hidden=496,
    max_readout=16,
    max_synapses=1,
    input_projection=Projection(count=128, position="first"),
    output_projection=Projection(count=128, position="last"),
    max_fanout=512,
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
    samna_namespace="xyloImu",
    device_type_name="XyloImuTestBoard",
    min_firmware={"fxtree": "0.11.5", "unifirm": "1.1.3"},
    power_rails={"Io": "io", "Core": "core"},
    default_power_hz=5.0,
)
