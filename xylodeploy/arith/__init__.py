"""The Xylo core's integer arithmetic, defined once (docs/chip-arithmetic.md).

`scalar_model` is the normative model of one time step (its docstring holds the equations);
`primitives` holds the compiled (numba) building blocks that every fast engine uses: bit-shift
decrement with its minimum step, saturation, two's-complement wrap and the capped spike loop.
Which values a spec may hold is `xylodeploy.drc.validity`.
"""
