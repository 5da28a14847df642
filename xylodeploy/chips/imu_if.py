"""Xylo IMU input interface (IMU IF): fixed widths and rates (docs/imu-frontend.md).

The IMU IF turns 3-axis integer sensor samples into 15 input spike channels of the SNN core:
rotation removal (covariance estimate, Jacobi SVD, rotation), 15 band-pass filters (5 per axis)
and a spike encoder. These are its hard-wired sizes and register widths.
"""

from __future__ import annotations

SAMPLE_RATE_HZ = 200.0  # one IMU IF step per sensor sample
N_AXES = 3
N_CHANNELS = 15  # filters / spike channels: 5 per axis, axis-major
INPUT_BITS = 16  # signed samples, |x| <= 2**15 - 1
SPIKE_BITS = 4  # scale encoder output: 0..15 events per step

# Band-pass filter registers (one set per channel)
FILTER_B_BITS = 4  # B_b, B_wf, B_af: unsigned 4-bit shifts
FILTER_TAP_BITS = 17  # a1, a2: signed 17-bit taps
FILTER_GUARD_BITS = 9  # headroom of the filter state above the 16-bit input

# Spike encoders
SCALE_SHIFT_BITS = 5  # scale encoder right shift, unsigned 5-bit
IAF_THRESHOLD_BITS = 31  # integrate-and-fire threshold, unsigned 31-bit

# Rotation removal
AVG_SHIFT_BITS = 5  # covariance low-pass shift (estimator_k_setting)
HOLD_PERIOD_BITS = 11  # covariance sample-and-hold period in steps (update_matrix_threshold)
COV_BITS = 31  # covariance registers (+2 bits headroom in the SVD)
COV_EXTRA_BITS = 2
MULT_BITS = 31  # x x^T product register
ROT_BITS = 32  # rotation matrix entries (+1 bit headroom)
ROT_EXTRA_BITS = 1
LUT_BITS = 16  # sin / cos / tan / 1/(2 cos) table entries
N_ANGLES = 64  # table rows over [0, 45] degrees
N_ROUNDS = 4  # Jacobi sweeps over the three 2x2 sub-problems
