"""Run one engine on one spec and raster and compare every recorded quantity with the scalar model.

from tests.support.conformance import assert_conforms
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

from tests.support.engines import Engine
from tests.support.strategies import spec_and_raster
from xylodeploy.arith import scalar_model
from xylodeploy.chips import available_chips, get_chip
from xylodeploy.drc import validity
from xylodeploy.ir.recording import Recording
from xylodeploy.ir.xylospec import XyloSpec


def skip_reason(engine: Engine, spec: XyloSpec) -> str | None:
    """Why ``engine`` does not run ``spec`` here (missing dependency, profile, design), or None."""
    missing = engine.missing()
    if missing:
        return f"{engine.name}: {missing}"
    if validity.problems(spec, engine.profile):  # type: ignore[arg-type]
        return f"{engine.name}: spec outside the {engine.profile} profile"
    return engine.supports(spec)


def assert_same(got: Recording, want: Recording, label: str) -> None:
    """Every field of ``want`` is present in ``got`` with the same values (dtype-agnostic)."""
    for name, expect in want.fields().items():
        actual = getattr(got, name)
        assert actual is not None, f"{label}: {name} not recorded"
        actual = np.asarray(actual)
        assert actual.shape == expect.shape, f"{label}: {name} shape {actual.shape} != {expect.shape}"
        diff = np.argwhere(actual != expect)
        if diff.size:
            at = tuple(int(i) for i in diff[0])
            raise AssertionError(
                f"{label}: {name} differs at (clip, step, neuron) {at}: {int(actual[at])} != oracle {int(expect[at])}"
                f" ({len(diff)} entries)"
            )


def assert_conforms(engine: Engine, spec: XyloSpec, raster: np.ndarray, label: str = "") -> Recording:
    """Skip if ``engine`` cannot run ``spec``; else assert it equals `scalar_model.run` on every field."""
    reason = skip_reason(engine, spec)
    if reason:
        pytest.skip(reason)
    got = engine.run(spec, raster)
    assert_same(got, scalar_model.run(spec, raster), f"{engine.name} {label}".strip())
    return got


@st.composite
def cases(draw: st.DrawFn, max_hidden: int = 16, max_steps: int = 30) -> tuple[XyloSpec, np.ndarray]:
    """A spec and raster for any chip, stressing the rules: the chip-profile specs of
    `tests.support.strategies` (extremes, mixed-sign saturation, aliases, synapse 2, thresholds 0 and
    negative, biases, counts above 15), sometimes pushed to the arith profile (weight shifts 8..16,
    int16 biases) or given dash_mem 0 on neurons driven to the negative limit."""
    chip = draw(st.sampled_from(available_chips()))
    spec, raster = draw(spec_and_raster(chip, max_hidden=max_hidden, max_steps=max_steps, max_batch=2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):  # dash_mem 0 with a strongly negative drive: the wrap of the negated decrement
        floor = rng.random(spec.n_hidden) < 0.5
        w_in = np.where(floor[None, :, None] & (spec.weights_in != 0), -128, spec.weights_in)
        spec = spec.replace(dash_mem=np.where(floor, 0, spec.dash_mem), weights_in=w_in, weight_shift_in=7)
    if draw(st.booleans()):  # beyond the chip's registers, inside the arithmetic
        state = get_chip(chip).state_range
        spec = spec.replace(
            weight_shift_in=int(rng.integers(8, 17)), weight_shift_rec=int(rng.integers(0, 17)),
            bias=rng.integers(state.lo, state.hi + 1, spec.n_hidden) * (rng.random(spec.n_hidden) < 0.5),
            bias_out=rng.integers(state.lo, state.hi + 1, spec.n_outputs),
        )  # fmt: skip
    return spec, raster
