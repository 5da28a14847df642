"""Opt-in board tests: run with ``pytest hw_tests --run-hardware`` with a Xylo HDK attached."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-hardware", action="store_true", default=False, help="run tests on an attached Xylo board")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hardware: needs a real Xylo board (--run-hardware)")


@pytest.fixture(scope="session")
def board_chip(request: pytest.FixtureRequest) -> str:
    """The chip of the first attached board; skips with the reason when there is none."""
    if not request.config.getoption("--run-hardware"):
        pytest.skip("hardware tests need --run-hardware and an attached Xylo board")
    from xylodeploy.backends.samna.boards import board_report

    report = board_report()
    if not report.rows:
        pytest.skip(f"no Xylo board: samna is {report.samna_state}; {report.note}")
    return report.rows[0]["chip"]


@pytest.fixture
def board(board_chip: str):
    from xylodeploy.backends.samna.backend import SamnaBackend

    backend = SamnaBackend(chip=board_chip)
    yield backend
    backend.close()
