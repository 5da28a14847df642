"""Xylo Audio 3 digital audio front-end: rates, widths and the filter-bank registers (docs/audio3-frontend.md).

The 16 band-pass filters are fixed in the chip; their register values (B_b, B_af, a1, a2, guard bits
B_wc) are the ones published in SynSense's model of the chip (rockpool ``syns65302``). B_wf = 8 for all.
"""

from __future__ import annotations

SYSTEM_CLOCK_HZ = 50_000_000
SAMPLE_RATE_HZ = SYSTEM_CLOCK_HZ / (64 * 16)  # 48828.125 Hz: one AFE step per audio sample
INPUT_BITS = 14  # signed samples, |x| < 2**13
FILTER_WF_BITS = 8
N_FILTERS = 16
MAX_EVENTS = 15  # events per channel and raster step (4 bits)
DEFAULT_DOWNSAMPLE = 50  # audio samples per SNN step: dt = 1.024 ms

# (B_wc guard bits, B_b, B_af, a1, a2) of filters 0..15, low to high centre frequency
FILTERS: tuple[tuple[int, int, int, int, int], ...] = (
    (7, 8, 6, -32694, 16313),
    (6, 8, 6, -32663, 16284),
    (6, 7, 7, -32617, 16244),
    (5, 7, 7, -32551, 16188),
    (5, 6, 8, -32453, 16110),
    (4, 6, 8, -32305, 16000),
    (4, 5, 9, -32077, 15848),
    (3, 5, 9, -31718, 15638),
    (3, 4, 10, -31139, 15347),
    (2, 4, 10, -30185, 14947),
    (2, 4, 10, -28582, 14402),
    (2, 3, 11, -25862, 13666),
    (2, 3, 11, -21262, 12687),
    (2, 2, 13, -27375, 22803),
    (2, 2, 13, -4180, 19488),
    (2, 1, 14, 25566, 15280),
)
