"""The first-contact checklist as a hardware test: ``pytest hw_tests --run-hardware``."""

from __future__ import annotations

import pytest

from hw_tests.first_contact import run_checklist

pytestmark = pytest.mark.hardware


def test_first_contact_checklist(board_chip):
    results = run_checklist(chip=board_chip)
    failed = [r.line() for r in results if r.status == "FAIL"]
    assert not failed, "\n".join(failed)
