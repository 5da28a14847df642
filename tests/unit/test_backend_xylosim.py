"""XylosimBackend: validation before xylosim is touched (it segfaults on bad sizes), lifetime of the
synapse objects, clamp and shapes. Bit-exactness against the reference is in tests/sim."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from xylodeploy.errors import ConfigError, MissingDependencyError
from xylodeploy.ir.xylospec import empty_spec

pytest.importorskip("xylosim.v2")
from xylodeploy.backends.xylosim import XylosimBackend  # noqa: E402


def test_values_checked_before_building() -> None:
    bad = [
        ({"weights_in": np.full((1, 2, 1), -129)}, "weights_in"),
        ({"dash_syn_out": [16]}, "dash_syn_out"),
        ({"weight_shift_in": 32}, "weight_shift_in"),
        ({"aliases": [(), (2,)]}, "aliases"),
        ({"threshold_out": [-40000]}, "threshold_out"),
    ]
    for change, field in bad:
        with pytest.raises(ConfigError, match=field):
            XylosimBackend().load(empty_spec("xylo-audio2", 1, 2, 1).replace(**change))
    with pytest.raises(ConfigError, match="outputs"):
        XylosimBackend().load(empty_spec("xylo-audio2", 1, 2, 0))


def test_synapses_survive_garbage_collection_and_counts_are_clamped() -> None:
    w = np.zeros((1, 1, 1), np.int64)
    w[0, 0, 0] = 100
    spec = empty_spec("xylo-imu", 1, 1, 1, 1, weights_in=w, dash_syn=[15], dash_mem=[15], threshold=[30000])
    sim = XylosimBackend()
    sim.load(spec)
    gc.collect()
    rec = sim.run(np.array([[[1]], [[16]], [[300]]]), record=True)  # 300 would be a TypeError in xylosim
    assert rec.isyn[:, 0, 0].tolist() == [99, 1499, 1499]
    assert rec.isyn2 is None and rec.spikes.dtype == np.int8 and rec.vmem.dtype == np.int16


def test_missing_xylosim_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import xylodeploy.backends.xylosim as mod

    def fail(module: str, extra: str, purpose: str = "") -> None:
        raise MissingDependencyError("xylosim", extra, purpose)

    monkeypatch.setattr(mod, "require", fail)
    with pytest.raises(MissingDependencyError, match=r"xylodeploy\[xylosim\]"):
        XylosimBackend()
