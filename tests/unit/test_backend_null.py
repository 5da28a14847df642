"""NullBackend: any structurally valid spec, zero recordings of the right shapes and dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.backends import get_backend
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import empty_spec


@pytest.mark.parametrize("n_syn", [1, 2])
def test_zero_recordings_of_right_shape(n_syn: int) -> None:
    # outside every chip's limits on purpose (2000 hidden, 40 outputs, threshold beyond int16)
    spec = empty_spec("xylo-imu", 3, 2000, 40, n_syn, threshold=np.full(2000, 10**6))
    sim = get_backend("null")
    sim.load(spec)
    rec = sim.run(np.ones((2, 7, 3), np.int64), record=True)
    assert rec.spikes_out.shape == (2, 7, 40) and rec.vmem.shape == (2, 7, 2000)
    assert (rec.isyn2 is None) == (n_syn == 1)
    assert all(not a.any() for a in rec.fields().values())
    assert sim.run(np.zeros((7, 3))).spikes_out.shape == (1, 7, 40) and not sim.run(np.zeros((7, 3))).recorded


def test_validates_raster_and_order() -> None:
    sim = get_backend("null")
    with pytest.raises(ConfigError, match="before load"):
        sim.run(np.zeros((1, 1)))
    sim.load(empty_spec("xylo-audio2", 2, 1, 1))
    with pytest.raises(ConfigError, match="channels"):
        sim.run(np.zeros((1, 4, 3)))
    with pytest.raises(ConfigError, match="XyloSpec"):
        sim.load("not a spec")  # type: ignore[arg-type]
