"""The Xylo core's integer arithmetic, defined once.

`primitives` holds the compiled (numba) building blocks that every fast engine uses: bit-shift
decrement with its minimum step, saturation, two's-complement wrap and the capped spike loop.
"""
