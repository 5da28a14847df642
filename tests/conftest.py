"""Shared fixtures: the samna stand-in (tests/fakesamna) for the board-driver tests.

Under CI (``CI`` set, as `.ci/run` is run) hypothesis draws the same examples every run, so a landing
never depends on luck; locally each run explores new examples (``HYPOTHESIS_PROFILE=ci`` to repeat CI's).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") or os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")


@pytest.fixture
def fake_samna():
    """Factory: ``fake_samna(["xylo-imu"])`` -> a samna-like module with those boards attached."""
    from tests.fakesamna import make_samna

    return make_samna


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: tiny float64 matmuls are dominated by BLAS thread start-up on a
    loaded machine (use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
