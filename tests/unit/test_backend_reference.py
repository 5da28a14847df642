"""ReferenceBackend: batch/clip equivalence, kernel agreement, input handling and validation.

The probes (values measured on xylosim) run on every kernel in tests/conformance/test_probes.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.probes import probe_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

KERNELS = ["vector", "scalar", "lanes"]


def run(spec: XyloSpec, raster: list, kernel: str = "scalar"):  # noqa: ANN201
    sim = ReferenceBackend(kernel)
    sim.load(spec)
    return sim.run(np.array(raster, np.int64), record=True)


def col(a: np.ndarray, n: int = 0) -> list[int]:
    return a[0, :, n].tolist()


@pytest.fixture(params=KERNELS)
def kernel(request: pytest.FixtureRequest) -> str:
    return request.param


def test_clips_are_independent_and_batch_equals_single(kernel: str) -> None:
    spec = probe_spec(w_in=[(0, 0, 0, 100)], ds=1, dm=1, th=60, n_hid=2, rec=[(0, 1, 90)])
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 3, (20, 15, 1))
    sim = ReferenceBackend(kernel)
    sim.load(spec)
    whole = sim.run(batch, record=True)
    for b in (0, 7, 19):
        alone = sim.run(batch[b], record=True)
        for name, arr in alone.fields().items():
            assert np.array_equal(arr, whole.fields()[name][b : b + 1]), name
    again = sim.run(batch[::-1], record=True)
    assert np.array_equal(again.vmem[::-1], whole.vmem)


def test_kernels_agree_and_record_false_gives_outputs_only() -> None:
    spec = probe_spec(w_in=[(0, 0, 0, 120)], ws_in=3, ds=2, dm=3, th=200, n_hid=3, rec=[(0, 1, 60), (1, 2, 90)])
    x = np.random.default_rng(1).integers(0, 4, (40, 30, 1))  # 40 clips: two lane groups, one partial
    recs = {k: run(spec, x, k) for k in KERNELS}
    for name, arr in recs["scalar"].fields().items():
        assert np.array_equal(arr, recs["lanes"].fields()[name]), name
    sim = ReferenceBackend()
    sim.load(spec)
    out = sim.run(x)
    assert not out.recorded and out.spikes is None and np.array_equal(out.spikes_out, recs["scalar"].spikes_out)


def test_dtypes_shapes_and_one_synapse() -> None:
    spec = empty_spec("xylo-imu", 3, 4, 2, 1)
    r = run(spec, np.zeros((5, 3), np.int64))
    assert r.spikes_out.shape == (1, 5, 2) and r.vmem.shape == (1, 5, 4) and r.isyn2 is None
    assert r.spikes.dtype == np.int8 and r.vmem.dtype == np.int16
    assert get_backend("reference").name == "reference"


@pytest.mark.parametrize(
    ("raster", "match"),
    [(np.zeros((2, 3, 4)), "channels"), (-np.ones((1, 2, 1)), ">= 0"), (np.full((1, 2, 1), 0.5), "integers"),
     (np.zeros(3), "shape")],
)  # fmt: skip
def test_input_validation(raster: np.ndarray, match: str) -> None:
    sim = ReferenceBackend()
    sim.load(empty_spec("xylo-audio2", 1, 2, 1))
    with pytest.raises(ConfigError, match=match):
        sim.run(raster)


@pytest.mark.parametrize(
    ("change", "match"),
    [({"weights_out": np.full((2, 1), 128)}, "weights_out"), ({"weight_shift_rec": 32}, "weight_shift_rec"),
     ({"dash_mem": [16, 0]}, "dash_mem"), ({"threshold": [40000, 0]}, "threshold"),
     ({"aliases": [(5,), ()]}, "aliases")],
)  # fmt: skip
def test_spec_validation(change: dict, match: str) -> None:
    spec = empty_spec("xylo-audio2", 1, 2, 1).replace(**change)
    with pytest.raises(ConfigError, match=match):
        ReferenceBackend().load(spec)


def test_run_before_load_and_bad_kernel() -> None:
    with pytest.raises(ConfigError, match="before load"):
        ReferenceBackend().run(np.zeros((1, 1)))
    with pytest.raises(ConfigError, match="kernel"):
        ReferenceBackend("gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="threads"):
        ReferenceBackend(threads=0)


@pytest.mark.parametrize(("threshold", "clips", "busy"), [(0, 24, True), (0, 23, False), (30000, 24, False)])
def test_auto_switches_to_lanes_for_busy_batches(threshold: int, clips: int, busy: bool) -> None:
    """Threshold 0 fires 31 spikes per neuron and step: a batch of >= 24 such clips goes to lanes."""
    spec = probe_spec(w_in=[(0, 0, 0, 100)], th=threshold, n_hid=3, rec=[(0, 1, 60), (1, 2, -90)])
    x = np.random.default_rng(2).integers(0, 3, (clips, 12, 1))
    sim = ReferenceBackend("auto")
    sim.load(spec)
    assert sim._busy(x.astype(np.uint8)) is busy
    auto, scalar = sim.run(x, record=True), run(spec, x, "scalar")
    for name, arr in scalar.fields().items():
        assert np.array_equal(arr, auto.fields()[name]), name
