"""The reference backend against xylosim.v2, bit for bit on every recorded quantity.

Random valid specs for each chip (tests/support/strategies.py), both reference kernels (scalar and SIMD
lanes), plus targeted corner cases found while cross-checking.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.strategies import spec_and_raster
from xylodeploy.backends.base import Recording
from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.chips import available_chips
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

pytest.importorskip("xylosim.v2")
from xylodeploy.backends.xylosim import XylosimBackend  # noqa: E402

KERNELS = ["vector", "scalar", "lanes"]
FIELDS = ("spikes_out", "spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


def assert_same(ref: Recording, oracle: Recording, label: str = "") -> None:
    """Every field equal; on failure name the field, clip, step and neuron of the first divergence."""
    for name in FIELDS:
        a, b = getattr(ref, name), getattr(oracle, name)
        assert (a is None) == (b is None), f"{label} {name}: present in only one recording"
        if a is None:
            continue
        assert a.shape == b.shape, f"{label} {name}: shape {a.shape} vs {b.shape}"
        bad = np.argwhere(a != b)
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            pytest.fail(f"{label} {name} differs first at (clip, t, n)={idx}: reference {a[idx]} xylosim {b[idx]}")


def run_both(spec: XyloSpec, raster: np.ndarray, kernel: str) -> tuple[Recording, Recording]:
    ref, xs = ReferenceBackend(kernel), XylosimBackend()
    ref.load(spec)
    xs.load(spec)
    return ref.run(raster, record=True), xs.run(raster, record=True)


def _property(chip: str, kernel: str):  # noqa: ANN202
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=spec_and_raster(chip))
    def check(case: tuple[XyloSpec, np.ndarray]) -> None:
        spec, raster = case
        assert_same(*run_both(spec, raster, kernel), label=f"{chip}/{kernel}")

    return check


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("chip", available_chips())
def test_random_specs_match_xylosim(chip: str, kernel: str) -> None:
    _property(chip, kernel)()


def _pinned_vmem_spec(dash_mem: int) -> XyloSpec:
    """Drive Vmem to -32768, then feed a large positive current (probe written for this quirk)."""
    w_in = np.zeros((2, 1, 2), np.int64)
    w_in[0, 0] = -128
    w_in[1, 0] = 127
    return empty_spec(
        "xylo-audio2", 2, 1, 1, 2, weights_in=w_in, weights_out=np.ones((1, 1), np.int64),
        dash_mem=[dash_mem], dash_syn=[1], dash_syn_2=[1], threshold=[32767], weight_shift_in=7,
    )  # fmt: skip


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dash_mem", [0, 1])
def test_vmem_at_minimum_with_dash_zero_stays_pinned(kernel: str, dash_mem: int) -> None:
    """dash_mem 0 and Vmem -32768: the negated decrement wraps, Vmem stays at -32768 (xylosim)."""
    raster = np.array([[[3, 0], [0, 3], [0, 0]]])
    ref, xs = run_both(_pinned_vmem_spec(dash_mem), raster, kernel)
    assert_same(ref, xs)
    expected = [-32768, -32768, -32768] if dash_mem == 0 else [-32768, -1, 16192]
    assert ref.vmem[0, :, 0].tolist() == expected


@pytest.mark.parametrize("kernel", KERNELS)
def test_negative_threshold_wraps_on_reset(kernel: str) -> None:
    """th < 0: each spike subtracts th with int16 wrap-around (probed: 31000 -> 31999 -> -32537)."""
    spec = empty_spec("xylo-audio2", 1, 2, 1, 2, threshold=[-1000, 30000], dash_mem=[15, 15])
    ref, xs = run_both(spec, np.zeros((1, 4, 1), np.int64), kernel)
    assert_same(ref, xs)
    assert ref.vmem[0, :, 0].tolist() == [31000, -32537, -32536, -32535]
    assert ref.spikes[0, :, 0].tolist() == [31, 2, 0, 0]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("aliases", [((1,), ()), ((), (0,)), ((0,), ())])
def test_alias_order_rules(kernel: str, aliases: tuple) -> None:
    """Higher-index target starts its spike loop from the aliased count; lower one is added to."""
    w_in = np.zeros((1, 2, 1), np.int64)
    w_in[0, :, 0] = 127
    spec = empty_spec("xylo-imu", 1, 2, 1, 1, weights_in=w_in, threshold=[100, 100], dash_mem=[15, 15],
                      dash_syn=[15, 15], weight_shift_in=4, aliases=aliases)  # fmt: skip
    ref, xs = run_both(spec, np.array([[[1], [0]]]), kernel)
    assert_same(ref, xs)
    expected = {((1,), ()): [20, 31], ((), (0,)): [31, 20], ((0,), ()): [31, 20]}[aliases]
    assert ref.spikes[0, 0].tolist() == expected


def test_xylosim_batch_is_clipwise() -> None:
    """The xylosim adapter resets between clips: clip 1 of a batch equals clip 1 run alone."""
    spec = _pinned_vmem_spec(1)
    raster = np.array([[[3, 0], [0, 3], [0, 0]], [[0, 1], [0, 0], [0, 0]]])
    xs = XylosimBackend()
    xs.load(spec)
    both, alone = xs.run(raster, record=True), xs.run(raster[1], record=True)
    assert_same(both.clip(1), alone)
