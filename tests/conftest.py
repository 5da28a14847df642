"""Shared fixtures: the samna stand-in (tests/fakesamna) for the board-driver tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_samna():
    """Factory: ``fake_samna(["xylo-imu"])`` -> a samna-like module with those boards attached."""
    from tests.fakesamna import make_samna

    return make_samna
