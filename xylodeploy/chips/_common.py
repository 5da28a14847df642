"""Facts shared by the three Xylo SNN cores (docs/chip-arithmetic.md, ranges)."""

from xylodeploy.chips.spec import IntRange

MAX_INPUTS = 16
MAX_INPUT_EVENTS = 15  # 4-bit input spike registers
MAX_HIDDEN_SPIKES = 31
MAX_OUTPUT_SPIKES = 1
MAX_ALIAS_TARGETS = 1
WEIGHT_RANGE = IntRange.signed(8)
WEIGHT_SHIFT_RANGE = IntRange.unsigned(3)  # IWBS/RWBS/OWBS: 3-bit register fields
THRESHOLD_RANGE = IntRange.signed(16)
# The hardware bias width is not public; xylosim takes int16 but the RAM exporter writes 2 hex
# digits. We take the safe assumption (docs/chip-arithmetic.md): 8-bit signed.
BIAS_RANGE = IntRange.signed(8)
DASH_RANGE = IntRange.unsigned(4)
STATE_RANGE = IntRange.signed(16)
DEFAULT_CLOCK_HZ = 50e6
# The time step a spec may declare [s]: the chip steps on a clock divider; a dt outside this range is a
# corrupt file rather than a design (1 us is 50 clock cycles; 10 s per step is no real-time network).
DT_RANGE_S = (1e-6, 10.0)
