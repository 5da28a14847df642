"""The probe table on every engine: the values measured on xylosim, and the scalar model's values."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.conformance import assert_conforms
from tests.support.engines import ENGINES
from tests.support.probes import PROBES
from xylodeploy.arith import scalar_model


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_scalar_model_reproduces_the_measured_probe(probe) -> None:
    values = scalar_model.run_clip(probe.spec, np.array(probe.raster))
    assert probe.actual(values) == probe.expect


@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=list(ENGINES))
@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_engine_reproduces_the_probe(engine, probe) -> None:
    got = assert_conforms(engine, probe.spec, np.array([probe.raster]), probe.name)
    values = {k: v[0] for k, v in got.fields().items()}
    assert probe.actual(values) == probe.expect
