"""Generated specs and rasters on every engine, the scalar model as oracle on every recorded quantity."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.conformance import assert_conforms, cases, skip_reason
from tests.support.engines import ENGINES

EXAMPLES = 40  # per engine; the whole directory stays within a few minutes on 2 cores


@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=list(ENGINES))
def test_engine_matches_the_scalar_model(engine) -> None:
    missing = engine.missing()
    if missing:
        pytest.skip(missing)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(case=cases())
    def check(case) -> None:
        spec, raster = case
        if skip_reason(engine, spec) is None:
            assert_conforms(engine, spec, raster)

    check()
