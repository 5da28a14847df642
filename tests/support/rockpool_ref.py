"""rockpool's published Xylo front-end models as independent references (tests only; rockpool is AGPL).

rockpool's ``devices.xylo`` package imports ``samna`` at import time; `rockpool_devices` installs a
stand-in module for ``samna`` (attribute access yields mocks) only while importing, unless the real
samna is importable. rockpool 3.1's IMU modules also cast shape-(1,) parameters with ``int()``,
which numpy >= 2 refuses; `imu_modules` wraps those casts. Nothing of rockpool's code is copied.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from unittest import mock

import numpy as np
import pytest


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return mock.MagicMock(name=f"{self.__name__}.{name}")


class _StubFinder:
    def find_spec(self, name, path=None, target=None):
        if name == "samna" or name.startswith("samna."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = _StubModule(spec.name)
        mod.__path__ = []
        return mod

    def exec_module(self, module) -> None:
        pass


def rockpool_devices(name: str):
    """Import ``rockpool.devices.xylo.<name>`` with samna stubbed if needed; skip when rockpool is absent."""
    pytest.importorskip("rockpool")
    real = importlib.util.find_spec("samna") is not None
    finder = None if real else _StubFinder()
    if finder:
        sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(f"rockpool.devices.xylo.{name}")
    finally:
        if finder:
            sys.meta_path.remove(finder)


def _scalar(kind: type):
    return lambda v: kind(np.asarray(v).reshape(-1)[0])


def _patched_parameter(orig):
    def make(data=None, *args, cast_fn=None, shape=None, **kwargs):
        if shape == (1,) and cast_fn in (None, int) and isinstance(data, int | float | np.integer):
            cast_fn = _scalar(int if cast_fn is int or isinstance(data, int | np.integer) else float)
        return orig(data, *args, cast_fn=cast_fn, shape=shape, **kwargs)

    return make


def _patch_int_casts(*modules: str) -> None:
    for name in modules:
        mod = importlib.import_module(name)
        if not getattr(mod, "_xylodeploy_patched", False):
            mod.SimulationParameter = _patched_parameter(mod.SimulationParameter)
            mod._xylodeploy_patched = True


def imu_modules():
    """rockpool's IMU IF modules (IMUIFSim, RotationRemoval, FilterBank, BandPassFilter, encoders, JSVD)."""
    base = "rockpool.devices.xylo.syns63300.imuif"
    pkg = rockpool_devices("syns63300")
    _patch_int_casts(*(f"{base}.{sub}" for sub in ("rotation.subspace", "rotation.sample_hold", "rotation_removal")))
    imuif = importlib.import_module(base)
    jsvd = importlib.import_module(f"{base}.rotation.jsvd")
    return types.SimpleNamespace(
        IMUIFSim=pkg.IMUIFSim,
        RotationRemoval=imuif.RotationRemoval,
        FilterBank=imuif.FilterBank,
        BandPassFilter=imuif.BandPassFilter,
        ScaleSpikeEncoder=imuif.ScaleSpikeEncoder,
        IAFSpikeEncoder=imuif.IAFSpikeEncoder,
        JSVD=jsvd.JSVD,
        RotationLookUpTable=jsvd.RotationLookUpTable,
    )


def audio3_modules():
    """rockpool's Xylo Audio 3 AFE reference parts usable without jax.

    Without jax, rockpool's ``ChipButterworth.evolve`` and ``DivisiveNormalization.evolve`` refuse
    their own batched (float) input, so the tests call the integer functions they are built on:
    ``ChipButterworth._filter`` (one filter's block diagram) and ``py_spike_gen``.
    """
    base = "rockpool.devices.xylo.syns65302"
    rockpool_devices("syns65302")
    _patch_int_casts(f"{base}.transform.quantizer")
    fb = importlib.import_module(f"{base}.afe.digital_filterbank")
    dn = importlib.import_module(f"{base}.afe.divisive_normalization")
    raster = importlib.import_module(f"{base}.afe.raster")
    tr = importlib.import_module(f"{base}.transform")
    return types.SimpleNamespace(
        ChipButterworth=fb.ChipButterworth,
        py_spike_gen=dn.py_spike_gen,
        Raster=raster.Raster,
        AudioQuantizer=tr.AudioQuantizer,
        ResampleAudio=tr.ResampleAudio,
    )


def as_int(a) -> np.ndarray:
    """rockpool's object-dtype integer arrays as int64."""
    return np.asarray(a, dtype=np.int64)


def scaled_synnet(n_channels: int, hidden: list[int], taus: list[int], gain: float = 8.0, seed: int = 0, **kw):
    """A rockpool ``SynNet`` (through xylodeploy's builder) with every linear weight times ``gain``, so that
    Bernoulli clips drive it to spike (the default initialisation is nearly silent)."""
    import torch

    from xylodeploy.interop.rockpool import build_rockpool_synnet

    torch.manual_seed(seed)
    net = build_rockpool_synnet(n_channels=n_channels, size_hidden_layers=hidden, time_constants_per_layer=taus, **kw)
    with torch.no_grad():
        for name, mod in net.seq.modules().items():
            if "linear" in name:
                mod.weight.data *= gain
    return net
